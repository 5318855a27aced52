/*
 * above.h - writing to a descriptor that progress bars draw on, without
 * breaking them: for the parts of weft that print more than a line (the
 * task dump).  A line is simpler with weft_bar_write.
 */
#ifndef WEFT_PROGRESS_ABOVE_H
#define WEFT_PROGRESS_ABOVE_H

/* Erases the bars drawn on fd, if any, and holds every bar's output (of
 * every thread) until weft__bars_resume(fd), which draws them again below
 * what was written meanwhile.  Whatever is written in between should end
 * with a newline.  Any thread; not nested; the writer must not use bars in
 * between. */
void weft__bars_pause(int fd);
void weft__bars_resume(int fd);

#endif
