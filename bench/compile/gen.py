#!/usr/bin/env python3
"""Writes a Truk program of about N lines (default 10000) to stdout, for timing the compiler.

A realistic mix per unit: an enum, a struct, functions with loops, if/else, match, calls,
defer, slices, pointers, casts, string literals and printf. Every unit calls the previous one,
so nothing is dead and the program runs. With --c, the same program in C (the reference rows
of ci/bench-compile). Usage: gen.py [LINES] [--c]"""
import sys

args = [a for a in sys.argv[1:] if a != "--c"]
c_lang = "--c" in sys.argv[1:]
lines = int(args[0]) if args else 10000
out = [
    "extern fn printf(fmt: *i8, ...args) : i32;",
    "",
]


def unit(i):
    prev = f"step_{i - 1}(v, n - 1)" if i > 0 else "0"
    return f"""enum Kind{i} : i32 {{
    A,
    B,
    C = 10,
}}

struct Item{i} {{
    id: i64,
    weight: i32,
    kind: Kind{i},
    tags: [4]u8,
}}

fn weigh_{i}(it: *Item{i}, scale: i32) : i32 {{
    var w: i32 = it->weight * scale;
    if it->kind == Kind{i}.A {{
        w += 1;
    }} else if it->kind == Kind{i}.B {{
        w -= 2;
    }} else {{
        w = w / 2 + (it->id % 7) as i32;
    }}
    return w;
}}

fn fill_{i}(s: []Item{i}, seed: i32) : void {{
    for var k: u64 = 0; k < len(s); k += 1 {{
        s[k].id = k as i64 + {i};
        s[k].weight = seed + (k as i32) * 3;
        s[k].tags[k % 4] = (k & 255) as u8;
        match (k % 3) as i32 {{
            case 0 => s[k].kind = Kind{i}.A,
            case 1 => s[k].kind = Kind{i}.B,
            _ => s[k].kind = Kind{i}.C,
        }}
    }}
}}

fn step_{i}(v: i32, n: i32) : i32 {{
    if n <= 0 {{
        return v;
    }}
    var items: []Item{i} = make(@Item{i}, 8 as u64);
    defer delete(items);
    fill_{i}(items, v);
    var total: i32 = 0;
    var k: u64 = 0;
    while k < len(items) {{
        var w: i32 = weigh_{i}(&items[k], 2);
        if w > 1000 && k != 3 || w < -1000 {{
            break;
        }}
        total += w;
        k += 1;
    }}
    if total % 97 == 0 {{
        printf("unit {i}: total %d\\n", total);
    }}
    return total % 1000 + {prev} * 0;
}}
"""


def c_unit(i):
    prev = f"step_{i - 1}(v, n - 1)" if i > 0 else "0"
    return f"""typedef enum {{
    Kind{i}_A,
    Kind{i}_B,
    Kind{i}_C = 10,
}} Kind{i};

typedef struct {{
    int64_t id;
    int32_t weight;
    Kind{i} kind;
    uint8_t tags[4];
}} Item{i};

int32_t weigh_{i}(Item{i} *it, int32_t scale) {{
    int32_t w = it->weight * scale;
    if (it->kind == Kind{i}_A) {{
        w += 1;
    }} else if (it->kind == Kind{i}_B) {{
        w -= 2;
    }} else {{
        w = w / 2 + (int32_t)(it->id % 7);
    }}
    return w;
}}

void fill_{i}(Item{i} *s, uint64_t len, int32_t seed) {{
    for (uint64_t k = 0; k < len; k += 1) {{
        s[k].id = (int64_t)k + {i};
        s[k].weight = seed + (int32_t)k * 3;
        s[k].tags[k % 4] = (uint8_t)(k & 255);
        switch ((int32_t)(k % 3)) {{
            case 0: s[k].kind = Kind{i}_A; break;
            case 1: s[k].kind = Kind{i}_B; break;
            default: s[k].kind = Kind{i}_C; break;
        }}
    }}
}}

int32_t step_{i}(int32_t v, int32_t n) {{
    if (n <= 0) {{
        return v;
    }}
    Item{i} *items = calloc(8, sizeof(Item{i}));
    fill_{i}(items, 8, v);
    int32_t total = 0;
    uint64_t k = 0;
    while (k < 8) {{
        int32_t w = weigh_{i}(&items[k], 2);
        if ((w > 1000 && k != 3) || w < -1000) {{
            break;
        }}
        total += w;
        k += 1;
    }}
    if (total % 97 == 0) {{
        printf("unit {i}: total %d\\n", total);
    }}
    free(items);
    return total % 1000 + {prev} * 0;
}}
"""


if c_lang:
    out = ["#include <stdint.h>", "#include <stdio.h>", "#include <stdlib.h>", ""]
    unit = c_unit

text = []
i = 0
count = len(out)
while count < lines - 12:
    u = unit(i)
    text.append(u)
    count += u.count("\n") + 1
    i += 1
out += text
out += ["int main(void) {", "    int32_t s = 0;"] if c_lang else ["fn main() : i32 {", "    var s: i32 = 0;"]
for k in range(0, i, max(1, i // 8)):
    out.append(f"    s += step_{k}(3, 4);")
out += [
    '    printf("%d\\n", s);',
    "    return 0;",
    "}",
]
print("\n".join(out))
