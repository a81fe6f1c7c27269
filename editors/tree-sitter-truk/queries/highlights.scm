; Highlights for Truk (tree-sitter captures as editors name them).

(comment) @comment

[
  "fn" "struct" "enum" "var" "const" "let" "extern" "import" "cimport" "shard" "shared"
] @keyword

[ "if" "else" "while" "for" "match" "case" "break" "continue" "return" "defer" ] @keyword.control

"as" @keyword.operator

[ "map" "chan" "table" ] @type.builtin
(primitive_type) @type.builtin
(type_identifier) @type

(integer) @number
(float) @number
(string) @string
(char) @character
(system_header) @string
(escape_sequence) @string.escape
[ (true) (false) ] @boolean
(nil) @constant.builtin
(wildcard) @variable.builtin

(function_declaration name: (identifier) @function)
(extern_function name: (identifier) @function)
(call_expression
  function: (identifier) @function.builtin
  (#match? @function.builtin "^(make|delete|len|sizeof|each|panic|atomic_(load|store|add|sub|swap|cas)|chan_(send|recv|close|len|select)|table_(put|get|del|len|clear|each)|lock|unlock|try_lock|wait_on|wake|spawn|spawn_linked|wait_child|wait_any_child|fleet_(self|size|first|generation|wait_exit))$"))
(call_expression function: (identifier) @function.call)
(call_expression function: (field_expression field: (field_identifier) @function.method))

(parameter name: (identifier) @variable.parameter)
(variadic_parameter name: (identifier) @variable.parameter)
(field_identifier) @property
(enum_variant name: (identifier) @constant)
(const_declaration name: (identifier) @constant)

[
  "=" "+=" "-=" "*=" "/=" "%=" "&=" "|=" "^=" "<<=" ">>="
  "||" "&&" "==" "!=" "<" "<=" ">" ">=" "|" "^" "&" "<<" ">>" "+" "-" "*" "/" "%"
  "!" "~" "->" "=>" "@" "..."
] @operator

[ "(" ")" "[" "]" "{" "}" ] @punctuation.bracket
[ "," ";" ":" "." ] @punctuation.delimiter

(identifier) @variable
