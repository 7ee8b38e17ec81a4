/* Model formulas (R/fixest style): a hand-written recursive-descent parser
 * that reports the byte offset of every syntax error, and the column-wise
 * evaluation of the parsed terms over a panel into a design matrix. */
#include "core_formula.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deepest nesting of parentheses, calls, unary minus and '^' chains accepted.
 * It bounds the recursion of both the parser and the evaluator. */
#define MAX_DEPTH 100

/* ---------------------------------------------------------------- strings */

/* A growable string; after an allocation failure it stays empty and oom is
 * set, so callers can append freely and check once. */
typedef struct sbuf {
  char *s;
  size_t len, cap;
  bool oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  /* An empty buffer (s NULL, cap 0) always grows; saying so lets the
   * analyzer see that memcpy never writes through NULL. */
  if (b->s == NULL || b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *t = realloc(b->s, cap);
    if (t == NULL) {
      b->oom = true;
      return;
    }
    b->s = t;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void sb_put(sbuf *b, const char *s) {
  sb_putn(b, s, strlen(s));
}

/* Hands the string over (an empty string when nothing was appended); NULL
 * when an allocation failed. */
static char *sb_take(sbuf *b) {
  if (!b->oom && b->s == NULL) sb_putn(b, "", 0);
  if (b->oom) {
    free(b->s);
    b->s = NULL;
    return NULL;
  }
  char *s = b->s;
  b->s = NULL;
  b->len = b->cap = 0;
  return s;
}

static void sb_free(sbuf *b) {
  free(b->s);
  b->s = NULL;
  b->len = b->cap = 0;
}

/* ------------------------------------------------------------ structures */

typedef enum tok_kind {
  T_END,
  T_NAME,
  T_NUM,
  T_TILDE,
  T_PLUS,
  T_MINUS,
  T_STAR,
  T_SLASH,
  T_CARET,
  T_COLON,
  T_LPAREN,
  T_RPAREN,
  T_BAR
} tok_kind;

typedef struct token {
  tok_kind kind;
  int pos; /* byte offset in the source */
  int len; /* bytes of source text */
  double num;
} token;

typedef enum node_kind {
  N_NUM,
  N_VAR,
  N_NEG,
  N_ADD,
  N_SUB,
  N_MUL,
  N_DIV,
  N_POW,
  N_PAREN,
  N_CALL
} node_kind;

typedef enum func_id { F_LOG, F_LOG1P, F_EXP, F_SQRT, F_I } func_id;

static const char *const func_names[] = {"log", "log1p", "exp", "sqrt", "I"};

typedef struct node {
  node_kind kind;
  func_id func; /* N_CALL */
  int a, b;     /* children (node indices), -1 when absent */
  int pos, len; /* source span of the token that made it (numbers: the text) */
  size_t var;   /* N_VAR: index into vars */
  double num;   /* N_NUM */
  int need;     /* scratch buffers its evaluation needs (Sethi-Ullman) */
} node;

typedef struct term {
  char *label;
  char *key; /* factor labels sorted and joined: a:b and b:a are the same */
  core_term_kind kind;
  int pos;
  size_t n_factors;
  int *factors; /* node indices */
} term;

typedef struct fe {
  char *label;
  char *key;
  int pos;
} fe;

struct core_formula {
  char *src;  /* the original text */
  char *text; /* normalised text */
  node *nodes;
  size_t n_nodes, cap_nodes;
  char **vars;
  int *var_pos;
  bool *var_numeric; /* read as a number (not only as a fixed effect) */
  size_t n_vars, cap_vars;
  int resp;       /* the response's node */
  int resp_inner; /* its y_level node: inside log()/log1p(), else resp */
  char *resp_label;
  core_term_kind resp_kind;
  bool intercept;
  term *terms;
  size_t n_terms, cap_terms;
  fe *fes;
  size_t n_fe, cap_fe;
};

typedef struct parser {
  const char *src;
  size_t len;
  size_t at; /* where the lexer continues */
  token tok; /* the current token */
  core_formula *f;
  core_err *err;
  core_status st; /* first failure; the parse stops there */
  int depth;
  sbuf rhs; /* normalised right-hand side, built item by item */
} parser;

/* ---------------------------------------------------------------- errors */

static core_status fail(parser *p, core_status code, int pos, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

static core_status fail(parser *p, core_status code, int pos, const char *fmt,
                        ...) {
  if (p->st != CORE_OK) return p->st; /* keep the first error */
  char buf[sizeof p->err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  p->st = code;
  if (p->err) p->err->pos = pos;
  core_err_set(p->err, code, "%s", buf);
  return code;
}

static core_status nomem(parser *p) {
  return fail(p, CORE_ENOMEM, -1, "out of memory parsing the formula");
}

/* A human description of the current token: "'+'", "end of formula". */
static void tok_desc(const parser *p, char *buf, size_t bufsz) {
  const token *t = &p->tok;
  if (t->kind == T_END)
    snprintf(buf, bufsz, "end of formula");
  else
    snprintf(buf, bufsz, "'%.*s'", t->len > 40 ? 40 : t->len, p->src + t->pos);
}

/* "expected X at position N, found Y" for the current token. */
static core_status expected(parser *p, const char *what, const char *hint) {
  char found[64];
  tok_desc(p, found, sizeof found);
  return fail(p, CORE_EPARSE, p->tok.pos,
              "expected %s at position %d, found %s%s", what, p->tok.pos, found,
              hint ? hint : "");
}

/* ----------------------------------------------------------------- lexer */

static bool is_alpha(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
static bool is_name_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '.';
}

static core_status lex_number(parser *p, size_t i) {
  const char *s = p->src;
  size_t j = i;
  while (j < p->len && is_digit(s[j]))
    j++;
  if (j < p->len && s[j] == '.') {
    j++;
    while (j < p->len && is_digit(s[j]))
      j++;
  }
  bool bad = false;
  if (j < p->len && (s[j] == 'e' || s[j] == 'E')) {
    size_t k = j + 1;
    if (k < p->len && (s[k] == '+' || s[k] == '-')) k++;
    if (k >= p->len || !is_digit(s[k])) bad = true;
    while (k < p->len && is_digit(s[k]))
      k++;
    j = k;
  }
  /* "2x", "1.2.3" and "1e" are one malformed number, not two tokens. */
  while (j < p->len && is_name_char(s[j])) {
    bad = true;
    j++;
  }
  int n = (int)(j - i);
  if (bad)
    return fail(p, CORE_EPARSE, (int)i,
                "bad number '%.*s' at position %zu: expected digits, an "
                "optional decimal part and an optional exponent such as 1e3",
                n > 40 ? 40 : n, s + i, i);
  char buf[CORE_FORMULA_MAX_LEN + 1];
  memcpy(buf, s + i, (size_t)n);
  buf[n] = '\0';
  char *end = NULL;
  double v = strtod(buf, &end);
  if (end != buf + n || !isfinite(v))
    return fail(p, CORE_EPARSE, (int)i,
                "number '%.*s' at position %zu is out of range",
                n > 40 ? 40 : n, s + i, i);
  p->tok = (token){.kind = T_NUM, .pos = (int)i, .len = n, .num = v};
  p->at = j;
  return CORE_OK;
}

/* Reads the next token into p->tok. */
static core_status advance(parser *p) {
  if (p->st != CORE_OK) return p->st;
  const char *s = p->src;
  size_t i = p->at;
  while (i < p->len &&
         (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    i++;
  if (i >= p->len) {
    p->tok = (token){.kind = T_END, .pos = (int)i, .len = 0};
    p->at = i;
    return CORE_OK;
  }
  char c = s[i];
  if (is_digit(c) || (c == '.' && i + 1 < p->len && is_digit(s[i + 1])))
    return lex_number(p, i);
  if (is_alpha(c) || c == '.') {
    size_t j = i;
    while (j < p->len && is_name_char(s[j]))
      j++;
    if (j - i > CORE_NAME_MAX)
      return fail(p, CORE_EPARSE, (int)i,
                  "name at position %zu is %zu bytes long; the limit is %d", i,
                  j - i, CORE_NAME_MAX);
    p->tok = (token){.kind = T_NAME, .pos = (int)i, .len = (int)(j - i)};
    p->at = j;
    return CORE_OK;
  }
  tok_kind k;
  switch (c) {
  case '~': k = T_TILDE; break;
  case '+': k = T_PLUS; break;
  case '-': k = T_MINUS; break;
  case '*': k = T_STAR; break;
  case '/': k = T_SLASH; break;
  case '^': k = T_CARET; break;
  case ':': k = T_COLON; break;
  case '(': k = T_LPAREN; break;
  case ')': k = T_RPAREN; break;
  case '|': k = T_BAR; break;
  default:
    if (c > ' ' && c < 127)
      return fail(p, CORE_EPARSE, (int)i,
                  "unexpected character '%c' at position %zu", c, i);
    return fail(p, CORE_EPARSE, (int)i,
                "unexpected byte 0x%02X at position %zu",
                (unsigned)(unsigned char)c, i);
  }
  p->tok = (token){.kind = k, .pos = (int)i, .len = 1};
  p->at = i + 1;
  return CORE_OK;
}

/* ------------------------------------------------------------ formula data */

static int add_node(parser *p, node_kind kind, int pos, int a, int b) {
  core_formula *f = p->f;
  if (f->n_nodes == f->cap_nodes) {
    size_t cap = f->cap_nodes ? f->cap_nodes * 2 : 32;
    node *t = realloc(f->nodes, cap * sizeof *t);
    if (t == NULL) {
      nomem(p);
      return -1;
    }
    f->nodes = t;
    f->cap_nodes = cap;
  }
  node *n = &f->nodes[f->n_nodes];
  *n = (node){.kind = kind, .a = a, .b = b, .pos = pos, .len = 1};
  /* Leaves write straight into their output; a unary node reuses its child's
   * output; a binary node keeps one operand in a scratch buffer while the
   * other is computed, and evaluates the needier operand first. */
  int na = a >= 0 ? f->nodes[a].need : 0;
  int nb = b >= 0 ? f->nodes[b].need : 0;
  if (b < 0)
    n->need = na;
  else
    n->need = na == nb ? na + 1 : (na > nb ? na : nb);
  return (int)f->n_nodes++;
}

/* Index of variable name (n bytes) in f->vars, adding it when new. */
static long add_var(parser *p, const char *name, size_t n, int pos,
                    bool numeric) {
  core_formula *f = p->f;
  for (size_t i = 0; i < f->n_vars; i++)
    if (strlen(f->vars[i]) == n && memcmp(f->vars[i], name, n) == 0) {
      f->var_numeric[i] = f->var_numeric[i] || numeric;
      return (long)i;
    }
  if (f->n_vars == f->cap_vars) {
    size_t cap = f->cap_vars ? f->cap_vars * 2 : 8;
    char **v = realloc(f->vars, cap * sizeof *v);
    if (v) f->vars = v;
    int *q = realloc(f->var_pos, cap * sizeof *q);
    if (q) f->var_pos = q;
    bool *u = realloc(f->var_numeric, cap * sizeof *u);
    if (u) f->var_numeric = u;
    if (!v || !q || !u) {
      nomem(p);
      return -1;
    }
    f->cap_vars = cap;
  }
  char *copy = strndup(name, n);
  if (copy == NULL) {
    nomem(p);
    return -1;
  }
  f->vars[f->n_vars] = copy;
  f->var_pos[f->n_vars] = pos;
  f->var_numeric[f->n_vars] = numeric;
  return (long)f->n_vars++;
}

/* Appends the normalised text of node i: single spaces around binary + and -,
 * none elsewhere; parentheses as written. */
static void print_node(const core_formula *f, int i, sbuf *b) {
  const node *n = &f->nodes[i];
  switch (n->kind) {
  case N_NUM: sb_putn(b, f->src + n->pos, (size_t)n->len); break;
  case N_VAR: sb_put(b, f->vars[n->var]); break;
  case N_NEG:
    sb_put(b, "-");
    print_node(f, n->a, b);
    break;
  case N_ADD:
  case N_SUB:
  case N_MUL:
  case N_DIV:
  case N_POW: {
    static const char *const ops[] = {" + ", " - ", "*", "/", "^"};
    print_node(f, n->a, b);
    sb_put(b, ops[n->kind - N_ADD]);
    print_node(f, n->b, b);
    break;
  }
  case N_PAREN:
    sb_put(b, "(");
    print_node(f, n->a, b);
    sb_put(b, ")");
    break;
  case N_CALL:
    sb_put(b, func_names[n->func]);
    sb_put(b, "(");
    print_node(f, n->a, b);
    sb_put(b, ")");
    break;
  }
}

/* The node with redundant outer parentheses removed. */
static int strip_parens(const core_formula *f, int i) {
  while (f->nodes[i].kind == N_PAREN)
    i = f->nodes[i].a;
  return i;
}

/* ---------------------------------------------------------------- parser */

static int parse_sum(parser *p);

/* NAME or NAME '(' expr ')'; the current token is the NAME. */
static int parse_name_or_call(parser *p) {
  token name = p->tok;
  if (advance(p)) return -1;
  if (p->tok.kind != T_LPAREN) {
    long v = add_var(p, p->src + name.pos, (size_t)name.len, name.pos, true);
    if (v < 0) return -1;
    int n = add_node(p, N_VAR, name.pos, -1, -1);
    if (n >= 0) {
      p->f->nodes[n].var = (size_t)v;
      p->f->nodes[n].len = name.len;
    }
    return n;
  }
  int fn = -1;
  for (int k = 0; k < (int)(sizeof func_names / sizeof *func_names); k++)
    if ((size_t)name.len == strlen(func_names[k]) &&
        memcmp(p->src + name.pos, func_names[k], (size_t)name.len) == 0)
      fn = k;
  if (fn < 0) {
    fail(p, CORE_EPARSE, name.pos,
         "unknown function '%.*s' at position %d: the known functions are "
         "log, log1p, exp, sqrt and I",
         name.len, p->src + name.pos, name.pos);
    return -1;
  }
  int open = p->tok.pos;
  if (advance(p)) return -1;
  if (p->tok.kind == T_RPAREN) {
    fail(p, CORE_EPARSE, p->tok.pos,
         "empty parentheses: expected an expression inside %s() at position %d",
         func_names[fn], p->tok.pos);
    return -1;
  }
  int arg = parse_sum(p);
  if (arg < 0) return -1;
  if (p->tok.kind != T_RPAREN) {
    char hint[64];
    snprintf(hint, sizeof hint, " (to close '(' at position %d)", open);
    expected(p, "')'", hint);
    return -1;
  }
  if (advance(p)) return -1;
  int n = add_node(p, N_CALL, name.pos, arg, -1);
  if (n >= 0) p->f->nodes[n].func = (func_id)fn;
  return n;
}

static int parse_primary(parser *p) {
  switch (p->tok.kind) {
  case T_NUM: {
    token t = p->tok;
    if (advance(p)) return -1;
    int n = add_node(p, N_NUM, t.pos, -1, -1);
    if (n >= 0) {
      p->f->nodes[n].num = t.num;
      p->f->nodes[n].len = t.len;
    }
    return n;
  }
  case T_NAME: return parse_name_or_call(p);
  case T_LPAREN: {
    int open = p->tok.pos;
    if (advance(p)) return -1;
    if (p->tok.kind == T_RPAREN) {
      fail(p, CORE_EPARSE, p->tok.pos,
           "empty parentheses: expected an expression at position %d",
           p->tok.pos);
      return -1;
    }
    int inner = parse_sum(p);
    if (inner < 0) return -1;
    if (p->tok.kind != T_RPAREN) {
      char hint[64];
      snprintf(hint, sizeof hint, " (to close '(' at position %d)", open);
      expected(p, "')'", hint);
      return -1;
    }
    if (advance(p)) return -1;
    return add_node(p, N_PAREN, open, inner, -1);
  }
  default:
    expected(p, "a number, a variable, a function call or '('", NULL);
    return -1;
  }
}

static int parse_unary(parser *p);

/* primary ['^' unary]: right-associative, and -x^2 is -(x^2) as in R. */
static int parse_power(parser *p) {
  int base = parse_primary(p);
  if (base < 0 || p->tok.kind != T_CARET) return base;
  int pos = p->tok.pos;
  if (advance(p)) return -1;
  int ex = parse_unary(p);
  if (ex < 0) return -1;
  return add_node(p, N_POW, pos, base, ex);
}

static int parse_unary(parser *p) {
  if (++p->depth > MAX_DEPTH) {
    fail(p, CORE_EPARSE, p->tok.pos,
         "expression nested too deeply at position %d (more than %d levels)",
         p->tok.pos, MAX_DEPTH);
    return -1;
  }
  int n;
  if (p->tok.kind == T_MINUS) {
    int pos = p->tok.pos;
    if (advance(p)) return -1;
    int a = parse_unary(p);
    n = a < 0 ? -1 : add_node(p, N_NEG, pos, a, -1);
  } else {
    n = parse_power(p);
  }
  p->depth--;
  return n;
}

static int parse_product(parser *p) {
  int l = parse_unary(p);
  while (l >= 0 && (p->tok.kind == T_STAR || p->tok.kind == T_SLASH)) {
    node_kind k = p->tok.kind == T_STAR ? N_MUL : N_DIV;
    int pos = p->tok.pos;
    if (advance(p)) return -1;
    int r = parse_unary(p);
    if (r < 0) return -1;
    l = add_node(p, k, pos, l, r);
  }
  return l;
}

static int parse_sum(parser *p) {
  int l = parse_product(p);
  while (l >= 0 && (p->tok.kind == T_PLUS || p->tok.kind == T_MINUS)) {
    node_kind k = p->tok.kind == T_PLUS ? N_ADD : N_SUB;
    int pos = p->tok.pos;
    if (advance(p)) return -1;
    int r = parse_product(p);
    if (r < 0) return -1;
    l = add_node(p, k, pos, l, r);
  }
  return l;
}

/* A factor of a term: a variable or a function call. Bare arithmetic belongs
 * inside I(), as in R. */
static int parse_factor(parser *p) {
  if (p->tok.kind == T_NAME) return parse_name_or_call(p);
  if (p->tok.kind == T_LPAREN || p->tok.kind == T_NUM)
    expected(p, "a variable or a function call",
             ": write arithmetic inside I()");
  else
    expected(p, "a term", NULL);
  return -1;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Joins n strings with sep, after sorting them when sort is set. */
static char *join(char **items, size_t n, const char *sep, bool sort) {
  if (sort) qsort(items, n, sizeof *items, cmp_str);
  sbuf b = {0};
  for (size_t i = 0; i < n; i++) {
    if (i) sb_put(&b, sep);
    sb_put(&b, items[i]);
  }
  return sb_take(&b);
}

static void free_strs(char **s, size_t n) {
  if (s == NULL) return;
  for (size_t i = 0; i < n; i++)
    free(s[i]);
  free(s);
}

/* term := factor { ':' factor }. Appends it to f->terms and to the text. */
static core_status parse_term(parser *p) {
  core_formula *f = p->f;
  int start = p->tok.pos;
  int *factors = NULL;
  char **labels = NULL;
  size_t n = 0, cap = 0;
  char *label = NULL, *key = NULL;
  for (;;) {
    int fac = parse_factor(p);
    if (fac < 0) goto cleanup;
    if (n == cap) {
      cap = cap ? cap * 2 : 4;
      int *t = realloc(factors, cap * sizeof *t);
      if (t) factors = t;
      char **l = realloc(labels, cap * sizeof *l);
      if (l) labels = l;
      if (!t || !l) {
        nomem(p);
        goto cleanup;
      }
    }
    sbuf b = {0};
    print_node(f, fac, &b);
    labels[n] = sb_take(&b);
    factors[n++] = fac;
    if (labels[n - 1] == NULL) {
      nomem(p);
      goto cleanup;
    }
    if (p->tok.kind != T_COLON) break;
    if (advance(p)) goto cleanup;
  }
  label = join(labels, n, ":", false);
  key = join(labels, n, ":", true); /* sorts labels */
  if (label == NULL || key == NULL) {
    nomem(p);
    goto cleanup;
  }
  for (size_t i = 1; i < n; i++)
    if (strcmp(labels[i - 1], labels[i]) == 0) {
      if (p->err) snprintf(p->err->name, sizeof p->err->name, "%s", label);
      fail(p, CORE_EINVAL, start,
           "term '%s' at position %d uses '%s' twice: write I(%s^2) for a "
           "square",
           label, start, labels[i], labels[i]);
      goto cleanup;
    }
  for (size_t t = 0; t < f->n_terms; t++)
    if (strcmp(f->terms[t].key, key) == 0) {
      if (p->err) snprintf(p->err->name, sizeof p->err->name, "%s", label);
      fail(p, CORE_EINVAL, start,
           "duplicate term '%s' at position %d (already at position %d)", label,
           start, f->terms[t].pos);
      goto cleanup;
    }
  if (f->n_terms == f->cap_terms) {
    size_t c = f->cap_terms ? f->cap_terms * 2 : 8;
    term *t = realloc(f->terms, c * sizeof *t);
    if (t == NULL) {
      nomem(p);
      goto cleanup;
    }
    f->terms = t;
    f->cap_terms = c;
  }
  core_term_kind kind = CORE_TERM_INTERACTION;
  if (n == 1) {
    const node *nd = &f->nodes[factors[0]];
    kind = CORE_TERM_LEVEL;
    if (nd->kind == N_CALL && nd->func == F_LOG) kind = CORE_TERM_LOG;
    if (nd->kind == N_CALL && nd->func == F_LOG1P) kind = CORE_TERM_LOG1P;
  }
  sb_put(&p->rhs, label);
  f->terms[f->n_terms++] = (term){.label = label,
                                  .key = key,
                                  .kind = kind,
                                  .pos = start,
                                  .n_factors = n,
                                  .factors = factors};
  label = key = NULL;
  factors = NULL;
cleanup:
  free(label);
  free(key);
  free(factors);
  free_strs(labels, n);
  return p->st;
}

/* fe_list := fe { '+' fe }, fe := NAME { '^' NAME }. The current token is
 * the first after '|'. */
static core_status parse_fe_list(parser *p) {
  core_formula *f = p->f;
  for (;;) {
    int start = p->tok.pos;
    char **names = NULL;
    size_t n = 0, cap = 0;
    char *label = NULL, *key = NULL;
    for (;;) {
      if (p->tok.kind != T_NAME) {
        expected(p, "a fixed-effect variable name", NULL);
        goto next;
      }
      token t = p->tok;
      if (advance(p)) goto next;
      if (p->tok.kind == T_LPAREN) {
        fail(p, CORE_EPARSE, t.pos,
             "fixed effects are plain variable names: '%.*s(' at position %d "
             "is a function call",
             t.len, p->src + t.pos, t.pos);
        goto next;
      }
      if (add_var(p, p->src + t.pos, (size_t)t.len, t.pos, false) < 0)
        goto next;
      if (n == cap) {
        cap = cap ? cap * 2 : 4;
        char **s = realloc(names, cap * sizeof *s);
        if (s == NULL) {
          nomem(p);
          goto next;
        }
        names = s;
      }
      names[n] = strndup(p->src + t.pos, (size_t)t.len);
      if (names[n++] == NULL) {
        nomem(p);
        goto next;
      }
      if (p->tok.kind != T_CARET) break;
      if (advance(p)) goto next;
    }
    label = join(names, n, "^", false);
    key = join(names, n, "^", true);
    if (label == NULL || key == NULL) {
      nomem(p);
      goto next;
    }
    for (size_t i = 1; i < n; i++)
      if (strcmp(names[i - 1], names[i]) == 0) {
        if (p->err) snprintf(p->err->name, sizeof p->err->name, "%s", label);
        fail(p, CORE_EINVAL, start,
             "fixed effect '%s' at position %d uses '%s' twice", label, start,
             names[i]);
        goto next;
      }
    for (size_t i = 0; i < f->n_fe; i++)
      if (strcmp(f->fes[i].key, key) == 0) {
        if (p->err) snprintf(p->err->name, sizeof p->err->name, "%s", label);
        fail(p, CORE_EINVAL, start,
             "duplicate fixed effect '%s' at position %d (already at position "
             "%d)",
             label, start, f->fes[i].pos);
        goto next;
      }
    if (f->n_fe == f->cap_fe) {
      size_t c = f->cap_fe ? f->cap_fe * 2 : 4;
      fe *t = realloc(f->fes, c * sizeof *t);
      if (t == NULL) {
        nomem(p);
        goto next;
      }
      f->fes = t;
      f->cap_fe = c;
    }
    f->fes[f->n_fe++] = (fe){.label = label, .key = key, .pos = start};
    label = key = NULL;
  next:
    free(label);
    free(key);
    free_strs(names, n);
    if (p->st != CORE_OK) return p->st;
    if (p->tok.kind == T_END) return CORE_OK;
    if (p->tok.kind != T_PLUS)
      return expected(p, "'+', '^' or end of formula", NULL);
    if (advance(p)) return p->st;
  }
}

/* rhs := item { ('+' | '-') item } [ '|' fe_list ], where an item is a term,
 * 0 or 1, and '-' may only precede 1. */
static core_status parse_rhs(parser *p) {
  core_formula *f = p->f;
  bool first = true;
  for (;;) {
    bool minus = false;
    if (first) {
      if (p->tok.kind == T_MINUS) {
        minus = true;
        sb_put(&p->rhs, "-");
        if (advance(p)) return p->st;
      }
    } else {
      minus = p->tok.kind == T_MINUS;
      sb_put(&p->rhs, minus ? " - " : " + ");
      if (advance(p)) return p->st;
    }
    if (minus) {
      if (p->tok.kind != T_NUM || p->tok.num != 1.0)
        return expected(p, "'1'",
                        ": '-' only removes the intercept (- 1); to drop a "
                        "term, leave it out");
      f->intercept = false;
      sb_put(&p->rhs, "1");
      if (advance(p)) return p->st;
    } else if (p->tok.kind == T_NUM) {
      /* As in R, the last of 0 / 1 / - 1 decides the intercept. */
      if (p->tok.num == 0.0)
        f->intercept = false;
      else if (p->tok.num == 1.0)
        f->intercept = true;
      else
        return expected(p, "a term, 0 or 1",
                        ": write other constants inside I()");
      sb_put(&p->rhs, p->tok.num == 0.0 ? "0" : "1");
      if (advance(p)) return p->st;
    } else if (parse_term(p) != CORE_OK) {
      return p->st;
    }
    first = false;
    switch (p->tok.kind) {
    case T_PLUS:
    case T_MINUS: continue;
    case T_END: return CORE_OK;
    case T_BAR:
      if (advance(p)) return p->st;
      return parse_fe_list(p);
    case T_TILDE:
      return fail(p, CORE_EPARSE, p->tok.pos,
                  "a formula has one '~': found a second '~' at position %d",
                  p->tok.pos);
    case T_RPAREN:
      return fail(p, CORE_EPARSE, p->tok.pos,
                  "unbalanced parentheses: ')' at position %d has no '('",
                  p->tok.pos);
    case T_STAR:
    case T_SLASH:
    case T_CARET:
      return expected(p, "'+', ':', '|' or end of formula",
                      ": write I(a*b) for arithmetic or a:b for an "
                      "interaction");
    default: return expected(p, "'+', ':', '|' or end of formula", NULL);
    }
  }
}

static core_status parse_formula(parser *p) {
  core_formula *f = p->f;
  if (advance(p)) return p->st;
  if (p->tok.kind == T_TILDE) return expected(p, "a response before '~'", NULL);
  f->resp = parse_sum(p);
  if (f->resp < 0) return p->st;
  if (p->tok.kind == T_RPAREN)
    return fail(p, CORE_EPARSE, p->tok.pos,
                "unbalanced parentheses: ')' at position %d has no '('",
                p->tok.pos);
  if (p->tok.kind != T_TILDE)
    return expected(p, "'~'", ": a formula is response ~ terms");
  if (advance(p)) return p->st;
  f->intercept = true;
  if (parse_rhs(p) != CORE_OK) return p->st;
  if (!f->intercept && f->n_terms == 0)
    return fail(p, CORE_EINVAL, -1,
                "the formula has no regressor and no intercept: nothing to "
                "estimate");

  int r = strip_parens(f, f->resp);
  f->resp_kind = CORE_TERM_LEVEL;
  f->resp_inner = f->resp;
  if (f->nodes[r].kind == N_CALL &&
      (f->nodes[r].func == F_LOG || f->nodes[r].func == F_LOG1P)) {
    f->resp_kind = f->nodes[r].func == F_LOG ? CORE_TERM_LOG : CORE_TERM_LOG1P;
    f->resp_inner = f->nodes[r].a;
  }
  sbuf b = {0};
  print_node(f, f->resp, &b);
  f->resp_label = sb_take(&b);
  if (f->resp_label == NULL) return nomem(p);
  sb_put(&b, f->resp_label);
  sb_put(&b, " ~ ");
  if (!p->rhs.oom && p->rhs.s) sb_put(&b, p->rhs.s);
  for (size_t i = 0; i < f->n_fe; i++) {
    sb_put(&b, i ? " + " : " | ");
    sb_put(&b, f->fes[i].label);
  }
  if (p->rhs.oom) b.oom = true;
  f->text = sb_take(&b);
  if (f->text == NULL) return nomem(p);
  return CORE_OK;
}

core_status core_formula_parse(const char *text, core_formula **out,
                               core_err *err) {
  core_err_clear(err);
  if (out == NULL)
    return core_err_set(err, CORE_EINVAL, "no output pointer given");
  *out = NULL;
  if (text == NULL) return core_err_set(err, CORE_EINVAL, "no formula given");
  size_t len = strnlen(text, CORE_FORMULA_MAX_LEN + 1);
  if (len > CORE_FORMULA_MAX_LEN)
    return core_err_set(err, CORE_EINVAL, "the formula is longer than %d bytes",
                        CORE_FORMULA_MAX_LEN);
  size_t k = 0;
  while (k < len && (text[k] == ' ' || text[k] == '\t' || text[k] == '\n' ||
                     text[k] == '\r'))
    k++;
  if (k == len) return core_err_set(err, CORE_EINVAL, "the formula is empty");

  core_formula *f = calloc(1, sizeof *f);
  if (f == NULL) return core_err_set(err, CORE_ENOMEM, "out of memory");
  f->resp = f->resp_inner = -1;
  f->src = strndup(text, len);
  if (f->src == NULL) {
    core_formula_free(f);
    return core_err_set(err, CORE_ENOMEM, "out of memory");
  }
  parser p = {.src = f->src, .len = len, .f = f, .err = err};
  core_status st = parse_formula(&p);
  sb_free(&p.rhs);
  if (st != CORE_OK) {
    core_formula_free(f);
    return st;
  }
  *out = f;
  return CORE_OK;
}

void core_formula_free(core_formula *f) {
  if (f == NULL) return;
  free(f->src);
  free(f->text);
  free(f->nodes);
  free_strs(f->vars, f->n_vars);
  free(f->var_pos);
  free(f->var_numeric);
  free(f->resp_label);
  for (size_t i = 0; i < f->n_terms; i++) {
    free(f->terms[i].label);
    free(f->terms[i].key);
    free(f->terms[i].factors);
  }
  free(f->terms);
  for (size_t i = 0; i < f->n_fe; i++) {
    free(f->fes[i].label);
    free(f->fes[i].key);
  }
  free(f->fes);
  free(f);
}

const char *core_formula_text(const core_formula *f) {
  return f ? f->text : NULL;
}

const char *core_formula_response_label(const core_formula *f) {
  return f ? f->resp_label : NULL;
}

core_term_kind core_formula_response_kind(const core_formula *f) {
  return f ? f->resp_kind : CORE_TERM_LEVEL;
}

bool core_formula_has_intercept(const core_formula *f) {
  return f ? f->intercept : false;
}

size_t core_formula_n_terms(const core_formula *f) {
  return f ? f->n_terms : 0;
}

const char *core_formula_term_label(const core_formula *f, size_t i) {
  return f && i < f->n_terms ? f->terms[i].label : NULL;
}

core_term_kind core_formula_term_kind(const core_formula *f, size_t i) {
  return f && i < f->n_terms ? f->terms[i].kind : CORE_TERM_INTERCEPT;
}

size_t core_formula_n_fe(const core_formula *f) {
  return f ? f->n_fe : 0;
}

const char *core_formula_fe_label(const core_formula *f, size_t i) {
  return f && i < f->n_fe ? f->fes[i].label : NULL;
}

size_t core_formula_n_vars(const core_formula *f) {
  return f ? f->n_vars : 0;
}

const char *core_formula_var(const core_formula *f, size_t i) {
  return f && i < f->n_vars ? f->vars[i] : NULL;
}

int core_formula_var_pos(const core_formula *f, size_t i) {
  return f && i < f->n_vars ? f->var_pos[i] : -1;
}

/* ------------------------------------------------------------ evaluation */

/* Evaluation works on whole columns: each node is computed for every design
 * row in one loop, into caller-provided buffers, so the cost per row is a few
 * arithmetic operations and nothing is allocated per row. */
typedef struct evalctx {
  const core_formula *f;
  size_t m;            /* rows evaluated */
  const size_t *row;   /* m panel row indices */
  const double **cols; /* per formula variable: its panel column */
  double **scratch;    /* by level, m doubles each, allocated on demand */
  size_t n_scratch;
  unsigned char *bad; /* lenient mode: rows already invalid; NULL when
                         strict (any violation is an error) */
  const char *label;  /* the term (or response) being evaluated */
  int pos;            /* where that term starts in the source */
  core_err *err;
} evalctx;

static double *scratch(evalctx *c, int level) {
  size_t l = (size_t)level;
  if (l >= c->n_scratch) {
    double **s = realloc(c->scratch, (l + 1) * sizeof *s);
    if (s == NULL) return NULL;
    for (size_t i = c->n_scratch; i <= l; i++)
      s[i] = NULL;
    c->scratch = s;
    c->n_scratch = l + 1;
  }
  if (c->scratch[l] == NULL) c->scratch[l] = malloc(c->m * sizeof(double));
  return c->scratch[l];
}

typedef enum check_kind {
  CHECK_POS,     /* log: x > 0 */
  CHECK_GT_M1,   /* log1p: x > -1 */
  CHECK_NONNEG,  /* sqrt: x >= 0 */
  CHECK_NONZERO, /* divisor != 0 */
  CHECK_FINITE   /* a result that overflowed or is undefined */
} check_kind;

/* Where the source text of node i begins. */
static int start_pos(const core_formula *f, int i) {
  const node *n = &f->nodes[i];
  if (n->kind >= N_ADD && n->kind <= N_POW) return start_pos(f, n->a);
  return n->pos;
}

/* Checks x over all rows. Lenient: violating rows become bad. Strict: the
 * violating rows are recorded on the error and CORE_EDOMAIN is returned.
 * text_node is the subexpression named in the message (-1: the whole term);
 * name_node is the argument whose being a single variable makes err->name
 * that variable (else err->name is the term label); -1 for none. */
static core_status check(evalctx *c, const double *x, check_kind k,
                         int text_node, int name_node, const char *fn) {
  size_t count = 0, first = 0;
#define CHECK_LOOP(cond)                                                       \
  for (size_t i = 0; i < c->m; i++) {                                          \
    double v = x[i];                                                           \
    if (!(cond) && !(c->bad && c->bad[i])) {                                   \
      if (c->bad) {                                                            \
        c->bad[i] = 1;                                                         \
      } else {                                                                 \
        if (count++ == 0) first = c->row[i];                                   \
        core_err_add_row(c->err, c->row[i]);                                   \
      }                                                                        \
    }                                                                          \
  }
  switch (k) {
  case CHECK_POS: CHECK_LOOP(v > 0); break;
  case CHECK_GT_M1: CHECK_LOOP(v > -1); break;
  case CHECK_NONNEG: CHECK_LOOP(v >= 0); break;
  case CHECK_NONZERO: CHECK_LOOP(v != 0); break;
  case CHECK_FINITE: CHECK_LOOP(isfinite(v)); break;
  }
#undef CHECK_LOOP
  if (count == 0) return CORE_OK;
  const core_formula *f = c->f;
  sbuf b = {0};
  if (text_node >= 0)
    print_node(f, text_node, &b);
  else
    sb_put(&b, c->label);
  char *text = sb_take(&b);
  const char *what = text ? text : "?";
  int nn = name_node >= 0 ? strip_parens(f, name_node) : -1;
  const char *name = nn >= 0 && f->nodes[nn].kind == N_VAR
                         ? f->vars[f->nodes[nn].var]
                         : c->label;
  if (c->err) {
    snprintf(c->err->name, sizeof c->err->name, "%s", name);
    c->err->pos = text_node >= 0 ? start_pos(f, text_node) : c->pos;
  }
  const char *s = count == 1 ? "" : "s";
  switch (k) {
  case CHECK_POS:
    core_err_set(c->err, CORE_EDOMAIN,
                 "%s() needs values > 0: %s is <= 0 in %zu row%s (first: row "
                 "%zu)",
                 fn, what, count, s, first);
    break;
  case CHECK_GT_M1:
    core_err_set(c->err, CORE_EDOMAIN,
                 "%s() needs values > -1: %s is <= -1 in %zu row%s (first: "
                 "row %zu)",
                 fn, what, count, s, first);
    break;
  case CHECK_NONNEG:
    core_err_set(c->err, CORE_EDOMAIN,
                 "%s() needs values >= 0: %s is < 0 in %zu row%s (first: row "
                 "%zu)",
                 fn, what, count, s, first);
    break;
  case CHECK_NONZERO:
    core_err_set(c->err, CORE_EDOMAIN,
                 "division by zero: %s is 0 in %zu row%s (first: row %zu)",
                 what, count, s, first);
    break;
  case CHECK_FINITE:
    core_err_set(c->err, CORE_EDOMAIN,
                 "%s is not finite (overflow or undefined) in %zu row%s "
                 "(first: row %zu)",
                 what, count, s, first);
    break;
  }
  free(text);
  return CORE_EDOMAIN;
}

/* Applies function fn of call node `call` (argument node arg) to in, giving
 * out (which may be in). */
static core_status apply_call(evalctx *c, int call, int arg, const double *in,
                              double *out) {
  func_id fn = c->f->nodes[call].func;
  const char *name = func_names[fn];
  core_status st = CORE_OK;
  size_t m = c->m;
  switch (fn) {
  case F_LOG:
    st = check(c, in, CHECK_POS, arg, arg, name);
    for (size_t i = 0; i < m && st == CORE_OK; i++)
      out[i] = log(in[i]);
    break;
  case F_LOG1P:
    st = check(c, in, CHECK_GT_M1, arg, arg, name);
    for (size_t i = 0; i < m && st == CORE_OK; i++)
      out[i] = log1p(in[i]);
    break;
  case F_SQRT:
    st = check(c, in, CHECK_NONNEG, arg, arg, name);
    for (size_t i = 0; i < m && st == CORE_OK; i++)
      out[i] = sqrt(in[i]);
    break;
  case F_EXP:
    for (size_t i = 0; i < m; i++)
      out[i] = exp(in[i]);
    st = check(c, out, CHECK_FINITE, call, arg, name);
    break;
  case F_I:
    if (out != in) memcpy(out, in, m * sizeof *out);
    break;
  }
  return st;
}

/* Evaluates node i over all rows into out, using scratch buffers from level
 * upwards. */
static core_status eval(evalctx *c, int i, double *out, int level) {
  const node *n = &c->f->nodes[i];
  size_t m = c->m;
  switch (n->kind) {
  case N_NUM:
    for (size_t k = 0; k < m; k++)
      out[k] = n->num;
    return CORE_OK;
  case N_VAR: {
    const double *col = c->cols[n->var];
    for (size_t k = 0; k < m; k++)
      out[k] = col[c->row[k]];
    if (c->bad)
      for (size_t k = 0; k < m; k++)
        if (!isfinite(out[k])) c->bad[k] = 1;
    return CORE_OK;
  }
  case N_PAREN: return eval(c, n->a, out, level);
  case N_NEG: {
    core_status st = eval(c, n->a, out, level);
    for (size_t k = 0; k < m && st == CORE_OK; k++)
      out[k] = -out[k];
    return st;
  }
  case N_CALL: {
    core_status st = eval(c, n->a, out, level);
    return st != CORE_OK ? st : apply_call(c, i, n->a, out, out);
  }
  default: break;
  }
  /* A binary operation: the needier operand goes into out first. */
  double *tmp = scratch(c, level);
  if (tmp == NULL)
    return core_err_set(c->err, CORE_ENOMEM, "out of memory evaluating '%s'",
                        c->label);
  const double *l, *r;
  core_status st;
  if (c->f->nodes[n->a].need >= c->f->nodes[n->b].need) {
    st = eval(c, n->a, out, level);
    if (st == CORE_OK) st = eval(c, n->b, tmp, level + 1);
    l = out;
    r = tmp;
  } else {
    st = eval(c, n->b, out, level);
    if (st == CORE_OK) st = eval(c, n->a, tmp, level + 1);
    l = tmp;
    r = out;
  }
  if (st != CORE_OK) return st;
  switch (n->kind) {
  case N_ADD:
    for (size_t k = 0; k < m; k++)
      out[k] = l[k] + r[k];
    break;
  case N_SUB:
    for (size_t k = 0; k < m; k++)
      out[k] = l[k] - r[k];
    break;
  case N_MUL:
    for (size_t k = 0; k < m; k++)
      out[k] = l[k] * r[k];
    break;
  case N_DIV:
    st = check(c, r, CHECK_NONZERO, n->b, n->b, "/");
    for (size_t k = 0; k < m && st == CORE_OK; k++)
      out[k] = l[k] / r[k];
    break;
  case N_POW:
    for (size_t k = 0; k < m; k++)
      out[k] = pow(l[k], r[k]);
    break;
  default: return core_err_set(c->err, CORE_EINTERNAL, "bad formula node");
  }
  if (st != CORE_OK) return st;
  return check(c, out, CHECK_FINITE, i, -1, "");
}

/* Marks in used[] every variable read by node i. */
static void mark_vars(const core_formula *f, int i, bool *used) {
  const node *n = &f->nodes[i];
  if (n->kind == N_VAR) used[n->var] = true;
  if (n->a >= 0) mark_vars(f, n->a, used);
  if (n->b >= 0) mark_vars(f, n->b, used);
}

void core_design_free(core_design *d) {
  if (d == NULL) return;
  if (d->X) gsl_matrix_free(d->X);
  if (d->y) gsl_vector_free(d->y);
  if (d->y_level) gsl_vector_free(d->y_level);
  free(d->row);
  if (d->col_label)
    for (size_t j = 0; j < d->p; j++)
      free(d->col_label[j]);
  free(d->col_label);
  free(d->col_kind);
  free(d);
}

/* Resolves every formula variable to its panel column (NULL for variables
 * used only as fixed effects). */
static core_status resolve_vars(const core_formula *f, const core_panel *p,
                                const double **cols, core_err *err) {
  for (size_t v = 0; v < f->n_vars; v++) {
    const char *name = f->vars[v];
    bool rep = strcmp(name, "reporter") == 0;
    bool par = strcmp(name, "partner") == 0;
    const char *why = NULL;
    if (f->var_numeric[v]) {
      if (rep || par)
        why = "is a string key (a country code), not a number: use it only "
              "as a fixed effect after '|'";
      else if ((cols[v] = core_panel_column(p, name)) == NULL)
        why = strcmp(name, "year") == 0 ? "is not in the data (no year key)"
                                        : "is not a column of the data";
    } else if (rep   ? p->reporter == NULL
               : par ? p->partner == NULL
                     : core_panel_column(p, name) == NULL) {
      why = "is not in the data";
    }
    if (why) {
      if (err) {
        snprintf(err->name, sizeof err->name, "%s", name);
        err->pos = f->var_pos[v];
      }
      return core_err_set(err, CORE_EUNKNOWN_VAR,
                          "variable '%s' at position %d %s", name,
                          f->var_pos[v], why);
    }
  }
  return CORE_OK;
}

/* Fills row[] with the panel rows whose needed variables are all present and
 * returns how many there are; missing[v] counts the absent values of each
 * needed variable. ok is n bytes of workspace. */
static size_t complete_rows(const core_formula *f, const core_panel *p,
                            const double **cols, const bool *needed,
                            unsigned char *ok, size_t *missing, size_t *row) {
  memset(ok, 1, p->n);
  for (size_t v = 0; v < f->n_vars; v++) {
    if (!needed[v]) continue;
    const double *col = cols[v];
    /* A string key (reporter, partner) used as a fixed effect is present
     * when its entry is not NULL. */
    char *const *keys = col != NULL                           ? NULL
                        : strcmp(f->vars[v], "reporter") == 0 ? p->reporter
                                                              : p->partner;
    size_t miss = 0;
    for (size_t i = 0; i < p->n; i++) {
      bool fin = col ? isfinite(col[i]) : keys != NULL && keys[i] != NULL;
      miss += !fin;
      ok[i] &= (unsigned char)fin;
    }
    missing[v] = miss;
  }
  size_t m = 0;
  for (size_t i = 0; i < p->n; i++)
    if (ok[i]) row[m++] = i;
  return m;
}

/* Marks the variables of every fixed-effect factor ("a^b" names a and b)
 * as needed, pointing cols at the numeric view of those that are not string
 * keys, so that rows missing a factor are dropped. */
static void mark_fe_vars(const core_formula *f, const core_panel *p,
                         const double **cols, bool *needed) {
  for (size_t i = 0; i < f->n_fe; i++) {
    const char *label = f->fes[i].label;
    while (*label) {
      size_t len = strcspn(label, "^");
      for (size_t v = 0; v < f->n_vars; v++) {
        if (strlen(f->vars[v]) != len || strncmp(f->vars[v], label, len) != 0)
          continue;
        needed[v] = true;
        bool key = strcmp(f->vars[v], "reporter") == 0 ||
                   strcmp(f->vars[v], "partner") == 0;
        if (!key && cols[v] == NULL) cols[v] = core_panel_column(p, f->vars[v]);
      }
      label += len;
      if (*label == '^') label++;
    }
  }
}

static core_status design_build(const core_formula *f, const core_panel *p,
                                core_design_mode mode, bool with_fe,
                                core_design **out, core_err *err) {
  core_err_clear(err);
  if (out) *out = NULL;
  if (f == NULL || p == NULL || out == NULL)
    return core_err_set(err, CORE_EINVAL, "no formula, panel or output given");
  if (mode != CORE_DESIGN_FIT && mode != CORE_DESIGN_PREDICT)
    return core_err_set(err, CORE_EINVAL, "unknown design mode %d", (int)mode);

  core_status st = CORE_OK;
  const double **cols = NULL;
  bool *needed = NULL, *resp_vars = NULL;
  size_t *missing = NULL, *row = NULL;
  unsigned char *ok = NULL;
  double *fbuf = NULL;
  core_design *d = NULL;
  evalctx c = {.f = f, .err = err};
  size_t nv = f->n_vars ? f->n_vars : 1;

  cols = calloc(nv, sizeof *cols);
  needed = calloc(nv, sizeof *needed);
  resp_vars = calloc(nv, sizeof *resp_vars);
  missing = calloc(nv, sizeof *missing);
  if (!cols || !needed || !resp_vars || !missing) goto nomem;
  st = resolve_vars(f, p, cols, err);
  if (st != CORE_OK) goto cleanup;
  if (f->n_fe > 0 && !with_fe) {
    st = core_err_set(err, CORE_ENOTSUP,
                      "fixed effects ('| %s'%s) are not supported yet: "
                      "remove them or add the factors as regressors",
                      f->fes[0].label, f->n_fe > 1 ? " and more" : "");
    goto cleanup;
  }

  for (size_t t = 0; t < f->n_terms; t++)
    for (size_t k = 0; k < f->terms[t].n_factors; k++)
      mark_vars(f, f->terms[t].factors[k], needed);
  mark_vars(f, f->resp, resp_vars);
  if (with_fe) mark_fe_vars(f, p, cols, needed);
  if (mode == CORE_DESIGN_FIT)
    for (size_t v = 0; v < f->n_vars; v++)
      needed[v] |= resp_vars[v];

  size_t n = p->n;
  row = malloc((n ? n : 1) * sizeof *row);
  ok = malloc(n ? n : 1);
  if (!row || !ok) goto nomem;
  size_t m = complete_rows(f, p, cols, needed, ok, missing, row);
  if (m == 0) {
    sbuf b = {0};
    for (size_t v = 0; v < f->n_vars; v++)
      if (needed[v] && missing[v] > 0) {
        char item[CORE_NAME_MAX + 40];
        snprintf(item, sizeof item, "%s%s: %zu missing", b.len ? ", " : "",
                 f->vars[v], missing[v]);
        sb_put(&b, item);
      }
    if (n == 0)
      st = core_err_set(err, CORE_ETOOFEW, "the data has no rows");
    else
      st = core_err_set(err, CORE_ETOOFEW,
                        "no complete row: all %zu rows have a missing value "
                        "(%s)",
                        n, b.s && !b.oom ? b.s : "");
    sb_free(&b);
    goto cleanup;
  }

  d = calloc(1, sizeof *d);
  if (d == NULL) goto nomem;
  /* Fixed effects absorb the constant. */
  bool intercept = f->intercept && !(with_fe && f->n_fe > 0);
  size_t ncol = f->n_terms + (intercept ? 1 : 0);
  d->n = m;
  d->p = ncol;
  d->n_missing = n - m;
  d->has_intercept = intercept;
  d->row = row;
  row = NULL;
  d->X = gsl_matrix_alloc(m, ncol);
  d->y = gsl_vector_alloc(m);
  d->y_level = gsl_vector_alloc(m);
  /* ncol is 0 for "y ~ 1 | f" (the effects absorb the constant): calloc(0)
   * may answer NULL, which is not a lack of memory. */
  d->col_label = calloc(ncol ? ncol : 1, sizeof *d->col_label);
  d->col_kind = calloc(ncol ? ncol : 1, sizeof *d->col_kind);
  fbuf = malloc(m * sizeof *fbuf);
  if (!d->X || !d->y || !d->y_level || !d->col_label || !d->col_kind || !fbuf)
    goto nomem;

  c.m = m;
  c.row = d->row;
  c.cols = cols;

  /* The response. In PREDICT mode a missing or out-of-domain response only
   * makes y (and y_level) NaN on that row. */
  if (mode == CORE_DESIGN_PREDICT) {
    c.bad = calloc(m, 1);
    if (c.bad == NULL) goto nomem;
  }
  c.label = f->resp_label;
  c.pos = start_pos(f, f->resp);
  double *ylev = d->y_level->data, *y = d->y->data;
  st = eval(&c, f->resp_inner, ylev, 0);
  if (st != CORE_OK) goto cleanup;
  if (c.bad)
    for (size_t k = 0; k < m; k++)
      if (c.bad[k]) ylev[k] = NAN;
  int r = strip_parens(f, f->resp);
  if (f->resp_inner != f->resp)
    st = apply_call(&c, r, f->resp_inner, ylev, y);
  else
    memcpy(y, ylev, m * sizeof *y);
  if (st != CORE_OK) goto cleanup;
  if (c.bad)
    for (size_t k = 0; k < m; k++)
      if (c.bad[k]) y[k] = NAN;
  free(c.bad);
  c.bad = NULL;

  /* The regressors, column by column. */
  size_t j = 0;
  if (intercept) {
    d->col_label[0] = strdup("(Intercept)");
    if (d->col_label[0] == NULL) goto nomem;
    d->col_kind[0] = CORE_TERM_INTERCEPT;
    for (size_t k = 0; k < m; k++)
      gsl_matrix_set(d->X, k, 0, 1.0);
    j = 1;
  }
  double *tbuf = malloc(m * sizeof *tbuf);
  if (tbuf == NULL) goto nomem;
  for (size_t t = 0; t < f->n_terms; t++, j++) {
    const term *tm = &f->terms[t];
    c.label = tm->label;
    c.pos = tm->pos;
    st = eval(&c, tm->factors[0], tbuf, 0);
    for (size_t q = 1; q < tm->n_factors && st == CORE_OK; q++) {
      st = eval(&c, tm->factors[q], fbuf, 0);
      for (size_t k = 0; k < m && st == CORE_OK; k++)
        tbuf[k] *= fbuf[k];
      /* An overflowing product is named by the whole term. */
      if (st == CORE_OK) st = check(&c, tbuf, CHECK_FINITE, -1, -1, "");
    }
    if (st != CORE_OK) {
      free(tbuf);
      goto cleanup;
    }
    d->col_label[j] = strdup(tm->label);
    if (d->col_label[j] == NULL) {
      free(tbuf);
      goto nomem;
    }
    d->col_kind[j] = tm->kind;
    double *xd = d->X->data + j;
    size_t tda = d->X->tda;
    for (size_t k = 0; k < m; k++)
      xd[k * tda] = tbuf[k];
  }
  free(tbuf);
  *out = d;
  d = NULL;
  st = CORE_OK;
  goto cleanup;

nomem:
  st = core_err_set(err, CORE_ENOMEM, "out of memory building the design");
cleanup:
  free(c.bad);
  for (size_t i = 0; i < c.n_scratch; i++)
    free(c.scratch[i]);
  free(c.scratch);
  free(cols);
  free(needed);
  free(resp_vars);
  free(missing);
  free(row);
  free(ok);
  free(fbuf);
  core_design_free(d);
  return st;
}

core_status core_design_build(const core_formula *f, const core_panel *p,
                              core_design_mode mode, core_design **out,
                              core_err *err) {
  return design_build(f, p, mode, false, out, err);
}

core_status core_design_build_fe(const core_formula *f, const core_panel *p,
                                 core_design_mode mode, core_design **out,
                                 core_err *err) {
  return design_build(f, p, mode, true, out, err);
}
