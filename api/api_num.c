/* See api_num.h. */
#include "api_num.h"
#include "api_pow5.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef unsigned __int128 u128;

/* 10^k for k = 0..38 (10^38 < 2^127), from 10^0..10^19 (each < 2^64). */
static u128 pow10_u128(int k) {
  static const uint64_t p10[20] = {1ULL,
                                   10ULL,
                                   100ULL,
                                   1000ULL,
                                   10000ULL,
                                   100000ULL,
                                   1000000ULL,
                                   10000000ULL,
                                   100000000ULL,
                                   1000000000ULL,
                                   10000000000ULL,
                                   100000000000ULL,
                                   1000000000000ULL,
                                   10000000000000ULL,
                                   100000000000000ULL,
                                   1000000000000000ULL,
                                   10000000000000000ULL,
                                   100000000000000000ULL,
                                   1000000000000000000ULL,
                                   10000000000000000000ULL};
  if (k <= 19) return p10[k];
  return (u128)p10[19] * p10[k - 19];
}

/* The 17 significant digits of m * 2^e (m < 2^53) for the decimal
 * exponent E: the value scaled by 10^(16-E), truncated in *trunc, and in
 * *up whether rounding half to even (as glibc) adds one. The scaling is
 * right when 10^16 <= *trunc < 10^17. Returns false when the arithmetic
 * would not fit in 128 bits (the caller then falls back). */
static bool digits17(uint64_t m, int e, int E, uint64_t *trunc, bool *up) {
  int s = 16 - E;
  u128 D, rem;
  *up = false;
  if (s >= 0) {
    if (s > 38) return false;
    u128 num = (u128)m * pow10_u128(s);
    if (num >> 126) return false;
    if (e >= 0) { /* an integer: exact, nothing to round */
      if (e > 60 || (num >> (127 - e)) != 0) return false;
      D = num << e;
    } else {
      int q = -e;
      if (q > 126) return false;
      D = num >> q;
      rem = num & (((u128)1 << q) - 1);
      /* Half to even: compare 2 rem with 2^q. */
      u128 twice = rem << 1, unit = (u128)1 << q;
      *up = twice > unit || (twice == unit && (D & 1));
    }
  } else { /* an integer value divided by 10^-s */
    if (e < 0 || e > 74 || -s > 38) return false;
    u128 value = (u128)m << e;
    u128 div = pow10_u128(-s);
    D = value / div;
    rem = value % div;
    u128 twice = rem * 2;
    *up = twice > div || (twice == div && (D & 1));
  }
  if (D >= UINT64_MAX) return false;
  *trunc = (uint64_t)D;
  return true;
}

/* 10^k as a double for k = -5..38 (each literal is the double nearest to
 * the power; for k = 0..22 the power itself, which api_parse_real's fast
 * path relies on). */
static double pow10_double(int k) {
  static const double p[] = {
      1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
      1e6,  1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
      1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27,
      1e28, 1e29, 1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38};
  return p[k + 5];
}

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536"
    "37383940414243444546474849505152535455565758596061626364656667686970717273"
    "7475767778798081828384858687888990919293949596979899";

static size_t fallback(double x, char *buf) {
  int n = snprintf(buf, API_NUM_BUF, "%.17g", x);
  return n < 0 ? 0 : (size_t)n;
}

/* Writes the eight digits of v < 10^8, zero-padded, two at a time. */
static inline void put_pairs4(char *out, uint32_t v) {
  uint32_t a = v / 10000, b = v % 10000;
  memcpy(out, digit_pairs + 2 * (a / 100), 2);
  memcpy(out + 2, digit_pairs + 2 * (a % 100), 2);
  memcpy(out + 4, digit_pairs + 2 * (b / 100), 2);
  memcpy(out + 6, digit_pairs + 2 * (b % 100), 2);
}

size_t api_fmt_g17(double x, char buf[API_NUM_BUF]) {
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  unsigned biased = (unsigned)(bits >> 52) & 0x7FF;
  uint64_t frac = bits & (((uint64_t)1 << 52) - 1);
  if (biased == 0x7FF) return fallback(x, buf); /* inf, nan */
  if (biased == 0) {
    if (frac != 0) return fallback(x, buf); /* subnormal */
    if (bits >> 63) {
      memcpy(buf, "-0", 3);
      return 2;
    }
    memcpy(buf, "0", 2);
    return 1;
  }
  double ax = fabs(x);
  if (!(ax >= 1e-5 && ax < 1e38)) return fallback(x, buf);
  /* ax = m 2^e exactly, m in [2^52, 2^53); ax in [2^(e2-1), 2^e2). */
  uint64_t m = frac | ((uint64_t)1 << 52);
  int e = (int)biased - 1075;
  int e2 = e + 53;
  /* floor(log10(ax)) without log10: floor((e2 - 1) log10(2)) or one more,
   * which one comparison with a power of ten tells. (e2 - 1) * 1233 >> 12
   * is floor((e2 - 1) log10(2)) for every e2 this range allows (checked in
   * the tests); a guess wrong by the rounding of the power is mended by the
   * loop below. */
  int E = ((e2 - 1) * 1233) >> 12;
  if (E + 1 <= 38 && ax >= pow10_double(E + 1)) E++;
  uint64_t D = 0;
  bool up = false;
  const uint64_t lo = 10000000000000000ULL, hi = 100000000000000000ULL;
  bool right = false;
  for (int attempt = 0; attempt < 3 && !right; attempt++) {
    if (!digits17(m, e, E, &D, &up)) return fallback(x, buf);
    if (D < lo)
      E--; /* the estimate was one too high */
    else if (D >= hi)
      E++; /* one too low */
    else
      right = true;
  }
  if (!right) return fallback(x, buf);
  if (up && ++D == hi) { /* rounded up to the next power of ten */
    D = lo;
    E++;
  }
  /* The 17 digits: the first, then two groups of eight, each written two
   * digits at a time; then how many are left after removing trailing
   * zeros. */
  char dig[17];
  uint32_t first = (uint32_t)(D / 10000000000000000ULL);
  uint64_t rest = D % 10000000000000000ULL;
  uint32_t low8 = (uint32_t)(rest % 100000000);
  dig[0] = (char)('0' + first);
  put_pairs4(dig + 1, (uint32_t)(rest / 100000000));
  put_pairs4(dig + 9, low8);
  int nd = 17;
  /* Most values end in a non-zero digit: tell that from the number, not by
   * reading back the bytes just written. */
  if (low8 % 10 == 0)
    while (nd > 1 && dig[nd - 1] == '0')
      nd--;
  size_t n = 0;
  if (bits >> 63) buf[n++] = '-';
  if (E < -4 || E >= 17) {
    buf[n++] = dig[0];
    if (nd > 1) {
      buf[n++] = '.';
      memcpy(buf + n, dig + 1, (size_t)(nd - 1));
      n += (size_t)(nd - 1);
    }
    buf[n++] = 'e';
    buf[n++] = E < 0 ? '-' : '+';
    int ae = E < 0 ? -E : E;
    if (ae >= 100) buf[n++] = (char)('0' + ae / 100);
    buf[n++] = (char)('0' + (ae / 10) % 10);
    buf[n++] = (char)('0' + ae % 10);
  } else if (E >= 0) {
    /* E + 1 digits before the point. */
    int ip = E + 1;
    if (nd <= ip) {
      memcpy(buf + n, dig, (size_t)nd);
      memset(buf + n + nd, '0', (size_t)(ip - nd));
      n += (size_t)ip;
    } else {
      memcpy(buf + n, dig, (size_t)ip);
      n += (size_t)ip;
      buf[n++] = '.';
      memcpy(buf + n, dig + ip, (size_t)(nd - ip));
      n += (size_t)(nd - ip);
    }
  } else {
    buf[n++] = '0';
    buf[n++] = '.';
    for (int i = 0; i < -E - 1; i++)
      buf[n++] = '0';
    memcpy(buf + n, dig, (size_t)nd);
    n += (size_t)nd;
  }
  buf[n] = '\0';
  return n;
}

size_t api_fmt_json_real(double x, char buf[API_NUM_BUF]) {
  size_t n = api_fmt_g17(x, buf);
  char *e = memchr(buf, 'e', n);
  if (e == NULL) {
    if (memchr(buf, '.', n) == NULL && n + 2 < API_NUM_BUF) {
      buf[n++] = '.';
      buf[n++] = '0';
      buf[n] = '\0';
    }
    return n;
  }
  /* "e+05" -> "e5", "e-05" -> "e-5" (as Jansson's jsonp_dtostr). */
  char *start = e + 1, *end = e + 2;
  if (*start == '-') start++;
  while (*end == '0')
    end++;
  if (end != start) {
    memmove(start, end, (size_t)(buf + n + 1 - end));
    n -= (size_t)(end - start);
  }
  return n;
}

/* ---- reading ------------------------------------------------------------ */

/* w * 10^q (w != 0, at most 19 digits) as a double, when it is a normal
 * number and the 128-bit product decides its rounding. Lemire (2021),
 * section 5: w is normalised, multiplied by the truncated 5^q, and the
 * top 54 bits give the significand and a rounding bit. */
static bool eisel_lemire(uint64_t w, int q, bool neg, double *out) {
  if (q < API_POW5_MIN_Q || q > API_POW5_MAX_Q) return false;
  int lz = __builtin_clzll(w);
  w <<= lz;
  size_t idx = 2 * (size_t)(q - API_POW5_MIN_Q);
  u128 first = (u128)w * API_POW5[idx];
  uint64_t hi = (uint64_t)(first >> 64), lo = (uint64_t)first;
  if ((hi & 0x1FF) == 0x1FF) {
    /* The low bits may carry into the kept ones: add the next 64 bits of
     * 5^q's product. */
    u128 second = (u128)w * API_POW5[idx + 1];
    uint64_t second_hi = (uint64_t)(second >> 64);
    lo += second_hi;
    if (second_hi > lo) hi++;
  }
  /* Products still this close to a boundary are left to strtod outside the
   * exponents where they are known to be exact (the paper's fallback). */
  if (lo == UINT64_MAX && (q < -27 || q > 55)) return false;
  int upper = (int)(hi >> 63);
  int shift = upper + 64 - 52 - 3;
  uint64_t mant = hi >> shift;
  /* floor(q log2(10)) + 63 + upper - lz + 1023: the biased exponent, with
   * log2(10) ~ 217706 / 2^16 (floor division, q may be negative). */
  int64_t t = 217706 * (int64_t)q;
  int64_t fl = t >= 0 ? t / 65536 : -((-t + 65535) / 65536);
  int power2 = (int)(fl + 63) + upper - lz + 1023;
  if (power2 <= 0) return false; /* subnormal or zero: strtod decides */
  /* A product that is exactly halfway (possible only for small q) rounds
   * to even. */
  if (lo <= 1 && q >= -4 && q <= 23 && (mant & 3) == 1 && (mant << shift) == hi)
    mant &= ~(uint64_t)1;
  mant += mant & 1;
  mant >>= 1;
  if (mant >= ((uint64_t)2 << 52)) {
    mant = (uint64_t)1 << 52;
    power2++;
  }
  mant &= ~((uint64_t)1 << 52);
  if (power2 >= 0x7FF) return false; /* infinite: strtod sets ERANGE */
  uint64_t bits = mant | ((uint64_t)power2 << 52) | ((uint64_t)neg << 63);
  memcpy(out, &bits, sizeof *out);
  return true;
}

bool api_parse_real(const char *s, size_t n, double *out) {
  size_t i = 0;
  bool neg = false;
  if (i < n && s[i] == '-') {
    neg = true;
    i++;
  }
  uint64_t w = 0;
  int digits = 0; /* significant digits in w */
  int q = 0;      /* value = w * 10^q */
  for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
    if (w == 0 && s[i] == '0') continue;
    if (digits == 19) return false;
    w = w * 10 + (uint64_t)(s[i] - '0');
    digits++;
  }
  if (i < n && s[i] == '.') {
    for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
      q--;
      if (w == 0 && s[i] == '0') continue;
      if (digits == 19) return false;
      w = w * 10 + (uint64_t)(s[i] - '0');
      digits++;
    }
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    bool eneg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    int e = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
      if (e > 100000) return false;
      e = e * 10 + (s[i] - '0');
    }
    q += eneg ? -e : e;
  }
  if (i != n) return false;
  if (w == 0) {
    *out = neg ? -0.0 : 0.0;
    return true;
  }
  if (w <= ((uint64_t)1 << 53) && q >= -22 && q <= 22) {
    /* Clinger: w and 10^|q| are exact, one IEEE operation rounds. */
    double v = (double)w;
    v = q < 0 ? v / pow10_double(-q) : v * pow10_double(q);
    *out = neg ? -v : v;
    return true;
  }
  return eisel_lemire(w, q, neg, out);
}
