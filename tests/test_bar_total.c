/*
 * test_bar_total.c - a bar whose total becomes known as it goes
 * (weft_bar_set_total): the redraws and the final line use the new total;
 * in log mode the tenths already passed are not printed at once; bad
 * input is refused.
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Everything the pipe holds now. */
static char *drain(int fd)
{
    static char buf[8192];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* Waits (bounded: 3 s) until the bar printed `what`. */
static bool printed(int fd, const char *what)
{
    for (int i = 0; i < 300; i++) {
        if (strstr(drain(fd), what))
            return true;
        weft_sleep(0.01);
    }
    return false;
}

static void *growing_total(void *arg)
{
    (void)arg;
    int pp[2];
    REQUIRE(pipe2(pp, O_CLOEXEC | O_NONBLOCK) == 0);
    weft_bar_opts o = {.desc = "bytes", .fd = pp[1]};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0); /* not a terminal: log mode */
    CHECK_EQ(weft_bar_set_total(NULL, 1), -EINVAL);
    CHECK_EQ(weft_bar_set_total(b, NAN), -EINVAL);
    weft_bar_update(b, 40);
    CHECK_EQ(weft_bar_set_total(b, 100), 0); /* 40%: not printed at once */
    weft_sleep(0.3);
    CHECK(strstr(drain(pp[0]), "/100") == NULL);
    weft_bar_update(b, 20); /* 60%: the next tenth is due */
    CHECK(printed(pp[0], "60/100"));
    CHECK_EQ(weft_bar_set_total(b, 200), 0);
    weft_bar_update(b, 140);
    CHECK_EQ(weft_bar_close(b), 0);
    char *out = drain(pp[0]);
    CHECK(strstr(out, "200/200") != NULL);
    if (!strstr(out, "200/200"))
        fprintf(stderr, "%s\n", out);
    close(pp[0]);
    close(pp[1]);
    return NULL;
}

int main(void)
{
    check_begin();
    check_case_alarm_install();
    check_case("total_set_as_it_becomes_known", growing_total, NULL, 0);
    return check_end();
}
