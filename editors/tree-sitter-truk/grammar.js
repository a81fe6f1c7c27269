/**
 * Tree-sitter grammar for Truk. It follows the compiler's grammar
 * (compiler-core/src/syntax/truk.pest) and its operator precedences (`precedence` in
 * compiler-core/src/syntax/parser/); `cargo test -p tree-sitter-truk` parses every program of
 * tests/lang and the conformance corpus that the compiler parses, and wants no error node.
 * Regenerate src/ with `tree-sitter generate` after a change here.
 */

const PREC = {
  or: 1,
  and: 2,
  equality: 3,
  comparison: 4,
  bitor: 5,
  bitxor: 6,
  bitand: 7,
  shift: 8,
  additive: 9,
  multiplicative: 10,
  unary: 11,
  postfix: 12,
};

const commaSep1 = (rule) => seq(rule, repeat(seq(',', rule)));
// Comma-separated, a trailing comma allowed, possibly empty.
const commaList = (rule) => optional(seq(commaSep1(rule), optional(',')));

module.exports = grammar({
  name: 'truk',

  extras: ($) => [/\s/, $.comment],

  word: ($) => $.identifier,

  conflicts: ($) => [
    // `name {` starts a struct literal or, after a condition, the block.
    [$._expression, $.struct_literal],
  ],

  rules: {
    source_file: ($) => repeat($._item),

    _item: ($) =>
      choice(
        $.function_declaration,
        $.struct_declaration,
        $.enum_declaration,
        $.var_declaration,
        $.const_declaration,
        $.shared_declaration,
        $.extern_function,
        $.extern_struct,
        $.extern_var,
        $.extern_enum,
        $.import_declaration,
        $.cimport_declaration,
        $.shard_declaration,
      ),

    // ---- items ------------------------------------------------------------------------

    function_declaration: ($) =>
      seq('fn', field('name', $.identifier), field('parameters', $.parameters), optional($._return_type), field('body', $.block)),

    _return_type: ($) => seq(':', field('return_type', $._type)),

    parameters: ($) => seq('(', commaList(choice($.parameter, $.variadic_parameter)), ')'),

    parameter: ($) => seq(field('name', $.identifier), ':', field('type', $._type)),

    variadic_parameter: ($) => seq('...', field('name', $.identifier)),

    struct_declaration: ($) => seq('struct', field('name', alias($.identifier, $.type_identifier)), field('body', $.field_list)),

    field_list: ($) =>
      seq('{', optional(seq($.field_declaration, repeat(seq(choice(',', ';'), $.field_declaration)), optional(choice(',', ';')))), '}'),

    field_declaration: ($) => seq(field('name', alias($.identifier, $.field_identifier)), ':', field('type', $._type)),

    enum_declaration: ($) => seq('enum', field('name', alias($.identifier, $.type_identifier)), ':', field('base', $._type), field('body', $.enum_body)),

    enum_body: ($) => seq('{', commaList($.enum_variant), '}'),

    enum_variant: ($) => seq(field('name', $.identifier), optional(seq('=', field('value', $._expression)))),

    var_declaration: ($) =>
      seq('var', field('name', $.identifier), optional(seq(':', field('type', $._type))), optional(seq('=', field('value', $._expression))), ';'),

    const_declaration: ($) =>
      seq('const', field('name', $.identifier), ':', field('type', $._type), '=', field('value', $._expression), ';'),

    shared_declaration: ($) =>
      seq('shared', 'var', field('name', $.identifier), ':', field('type', $._type), optional(seq('=', field('value', $._expression))), ';'),

    extern_function: ($) =>
      seq('extern', 'fn', field('name', $.identifier), field('parameters', $.parameters), optional($._return_type), ';'),

    extern_struct: ($) => seq('extern', 'struct', field('name', alias($.identifier, $.type_identifier)), choice(field('body', $.field_list), ';')),

    extern_var: ($) => seq('extern', 'var', field('name', $.identifier), ':', field('type', $._type), ';'),

    extern_enum: ($) =>
      seq('extern', 'enum', field('name', alias($.identifier, $.type_identifier)), ':', field('base', $._type), field('body', $.enum_body)),

    import_declaration: ($) => seq('import', field('path', $.string), ';'),

    cimport_declaration: ($) => seq('cimport', field('header', choice($.system_header, $.string)), ';'),

    shard_declaration: ($) => seq('shard', field('name', $.string), ';'),

    system_header: (_) => token(seq('<', /[^>\n]+/, '>')),

    // ---- types ------------------------------------------------------------------------

    _type: ($) =>
      choice(
        $.primitive_type,
        $.pointer_type,
        $.slice_type,
        $.array_type,
        $.map_type,
        $.chan_type,
        $.table_type,
        $.function_type,
        $.tuple_type,
        alias($.identifier, $.type_identifier),
      ),

    primitive_type: (_) => choice('i8', 'i16', 'i32', 'i64', 'u8', 'u16', 'u32', 'u64', 'f32', 'f64', 'bool', 'void'),

    pointer_type: ($) => seq('*', $._type),

    slice_type: ($) => seq('[', ']', field('element', $._type)),

    array_type: ($) => seq('[', field('length', $._expression), ']', field('element', $._type)),

    map_type: ($) => seq('map', '[', field('key', $._type), ',', field('value', $._type), ']'),

    chan_type: ($) => seq('chan', '[', field('element', $._type), ',', field('capacity', $._expression), ']'),

    table_type: ($) =>
      seq('table', '[', field('key', $._type), ',', field('value', $._type), ',', field('capacity', $._expression), ']'),

    function_type: ($) => prec.right(seq('fn', '(', commaList($._type), ')', optional(seq(':', field('return_type', $._type))))),

    tuple_type: ($) => seq('(', $._type, repeat(seq(',', $._type)), optional(','), ')'),

    // ---- statements -------------------------------------------------------------------

    block: ($) => seq('{', repeat($._statement), '}'),

    _statement: ($) =>
      choice(
        $.var_declaration,
        $.const_declaration,
        $.shared_declaration,
        $.let_statement,
        $.if_statement,
        $.while_statement,
        $.for_statement,
        $.match_statement,
        $.return_statement,
        $.break_statement,
        $.continue_statement,
        $.defer_statement,
        $.block,
        $.expression_statement,
      ),

    let_statement: ($) =>
      seq('let', commaSep1(field('name', choice($.identifier, $.wildcard))), optional(seq('=', field('value', $._expression))), ';'),

    if_statement: ($) =>
      seq('if', field('condition', $._expression), field('consequence', $.block), optional(seq('else', field('alternative', choice($.if_statement, $.block))))),

    while_statement: ($) => seq('while', field('condition', $._expression), field('body', $.block)),

    for_statement: ($) =>
      seq(
        'for',
        optional(field('initializer', choice($.for_variable, $._simple_statement))),
        ';',
        optional(field('condition', $._expression)),
        ';',
        optional(field('update', $._simple_statement)),
        field('body', $.block),
      ),

    for_variable: ($) =>
      seq('var', field('name', $.identifier), ':', field('type', $._type), optional(seq('=', field('value', $._expression)))),

    return_statement: ($) => seq('return', optional(commaSep1($._expression)), ';'),

    break_statement: (_) => seq('break', ';'),

    continue_statement: (_) => seq('continue', ';'),

    defer_statement: ($) => seq('defer', choice($.block, seq($._simple_statement, ';'))),

    match_statement: ($) => seq('match', field('value', $._expression), '{', repeat($.match_arm), '}'),

    match_arm: ($) =>
      seq(
        choice(seq('case', field('pattern', $._expression)), $.wildcard),
        '=>',
        choice(seq(field('body', $.block), optional(',')), seq(field('body', $._arm_statement), optional(','))),
      ),

    // In an arm, `,` ends the statement: a return takes one value.
    _arm_statement: ($) =>
      choice(
        alias($.arm_return, $.return_statement),
        alias('break', $.break_statement),
        alias('continue', $.continue_statement),
        $._simple_statement,
      ),

    arm_return: ($) => prec.right(seq('return', optional($._expression))),

    expression_statement: ($) => seq($._simple_statement, ';'),

    _simple_statement: ($) => choice($.assignment, $._expression),

    assignment: ($) =>
      seq(field('left', $._expression), field('operator', choice('=', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '<<=', '>>=')), field('right', $._expression)),

    // ---- expressions ------------------------------------------------------------------

    _expression: ($) =>
      choice(
        $.identifier,
        $.integer,
        $.float,
        $.string,
        $.char,
        $.true,
        $.false,
        $.nil,
        $.binary_expression,
        $.unary_expression,
        $.call_expression,
        $.index_expression,
        $.field_expression,
        $.cast_expression,
        $.parenthesized_expression,
        $.lambda_expression,
        $.array_literal,
        $.struct_literal,
        $.type_argument,
      ),

    binary_expression: ($) => {
      const table = [
        [PREC.or, '||'],
        [PREC.and, '&&'],
        [PREC.equality, choice('==', '!=')],
        [PREC.comparison, choice('<', '<=', '>', '>=')],
        [PREC.bitor, '|'],
        [PREC.bitxor, '^'],
        [PREC.bitand, '&'],
        [PREC.shift, choice('<<', '>>')],
        [PREC.additive, choice('+', '-')],
        [PREC.multiplicative, choice('*', '/', '%')],
      ];
      return choice(
        ...table.map(([p, op]) => prec.left(p, seq(field('left', $._expression), field('operator', op), field('right', $._expression)))),
      );
    },

    unary_expression: ($) => prec(PREC.unary, seq(field('operator', choice('-', '!', '~', '&', '*')), field('operand', $._expression))),

    call_expression: ($) => prec(PREC.postfix, seq(field('function', $._expression), field('arguments', $.arguments))),

    arguments: ($) => seq('(', commaList($._expression), ')'),

    index_expression: ($) => prec(PREC.postfix, seq(field('value', $._expression), '[', field('index', $._expression), ']')),

    field_expression: ($) =>
      prec(PREC.postfix, seq(field('value', $._expression), choice('.', '->'), field('field', alias($.identifier, $.field_identifier)))),

    cast_expression: ($) => prec(PREC.postfix, seq(field('value', $._expression), 'as', field('type', $._type))),

    parenthesized_expression: ($) => seq('(', $._expression, ')'),

    lambda_expression: ($) => seq('fn', field('parameters', $.parameters), optional($._return_type), field('body', $.block)),

    array_literal: ($) => seq('[', commaList($._expression), ']'),

    struct_literal: ($) => seq(field('name', alias($.identifier, $.type_identifier)), '{', commaList($.field_initializer), '}'),

    field_initializer: ($) => seq(field('name', alias($.identifier, $.field_identifier)), ':', field('value', $._expression)),

    type_argument: ($) => seq('@', $._type),

    // ---- tokens -----------------------------------------------------------------------

    identifier: (_) => /[A-Za-z_][A-Za-z0-9_]*/,
    wildcard: (_) => '_',

    integer: (_) => token(choice(/0[xX][0-9a-fA-F]+/, /0[bB][01]+/, /0[oO][0-7]+/, /[0-9]+/)),
    float: (_) => token(choice(/[0-9]+\.[0-9]+([eE][+-]?[0-9]+)?/, /[0-9]+[eE][+-]?[0-9]+/)),

    string: ($) => seq('"', repeat(choice($.string_content, $.escape_sequence)), token.immediate('"')),
    string_content: (_) => token.immediate(prec(1, /[^"\\\n]+/)),
    char: ($) => seq("'", repeat(choice(alias(token.immediate(prec(1, /[^'\\\n]+/)), $.string_content), $.escape_sequence)), token.immediate("'")),
    escape_sequence: (_) => token.immediate(/\\[^\n]/),

    true: (_) => 'true',
    false: (_) => 'false',
    nil: (_) => 'nil',

    comment: (_) => token(choice(seq('//', /[^\n]*/), seq('/*', /[^*]*\*+([^/*][^*]*\*+)*/, '/'))),
  },
});
