//! The Truk fleet region protocol (see runtime-c/truk_region.h).
