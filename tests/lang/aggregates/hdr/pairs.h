/* Small structs by value, for c_small_struct_by_value.truk. */
struct pair { int a; int b; };
struct trio { short x; char y; long long z; };
static inline int span(struct pair p) { return p.b - p.a; }
static inline struct pair swap(struct pair p) { struct pair r = { p.b, p.a }; return r; }
static inline long long trio_sum(struct trio t, int k) { return t.x + t.y + t.z + k; }
static inline struct trio mktrio(int k) { struct trio t = { (short)k, (char)(k + 1), 1000000000000LL }; return t; }
