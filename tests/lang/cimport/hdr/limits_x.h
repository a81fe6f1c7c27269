#ifndef TRUK_TESTS_LIMITS_X_H
#define TRUK_TESTS_LIMITS_X_H

#define WINDOW 40
static int window_hits = 2;

#endif
