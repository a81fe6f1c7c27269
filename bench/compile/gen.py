#!/usr/bin/env python3
"""Writes a Truk program of about N lines (default 10000) to stdout, for timing the compiler.

A realistic mix per unit: an enum, a struct, functions with loops, if/else, match, calls,
defer, slices, pointers, casts, string literals and printf. Every unit calls the previous one,
so nothing is dead and the program runs. Usage: gen.py [LINES]"""
import sys

lines = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
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


text = []
i = 0
count = len(out)
while count < lines - 12:
    u = unit(i)
    text.append(u)
    count += u.count("\n") + 1
    i += 1
out += text
out += [
    "fn main() : i32 {",
    "    var s: i32 = 0;",
]
for k in range(0, i, max(1, i // 8)):
    out.append(f"    s += step_{k}(3, 4);")
out += [
    '    printf("%d\\n", s);',
    "    return 0;",
    "}",
]
print("\n".join(out))
