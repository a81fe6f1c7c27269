#ifndef TRUK_TESTS_MATHX_H
#define TRUK_TESTS_MATHX_H

static inline int cube(int x) { return x * x * x; }

typedef enum { MODE_OFF = 0, MODE_SLOW = 3, MODE_FAST = 9 } Mode;

static inline int mode_speed(Mode m) { return (int)m * 2; }

#endif
