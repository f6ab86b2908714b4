/*
 * AES-256-GCM with VAES and VPCLMULQDQ on 512-bit registers: sixteen blocks per step, the
 * GHASH of those sixteen folded with one reduction.
 *
 * Why: the OpenSSL that Node 20 links (3.0) has no path for these instructions; its AES-NI
 * code ran at about 3 GB/s here, and that was the whole of what decryption cost a download
 * (bench/README.md, "encryption"). This runs only where the CPU and OS have the instructions;
 * gcm.c falls back to OpenSSL elsewhere, and checks this against OpenSSL when it loads.
 *
 * GHASH works on byte-reflected blocks with the multiply and reduction of Gueron and
 * Kounavis, "Intel Carry-Less Multiplication Instruction and its Usage for Computing the GCM
 * Mode" (Intel, 2014): products are summed unreduced (the shift and reduction are linear) and
 * reduced once per sixteen blocks.
 */
#include "vaes-gcm.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define VG_TARGET __attribute__((target("aes,pclmul,ssse3,sse4.1,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")))

struct vgcm {
  __m512i rk[15]; /* round keys, each in all four lanes */
  __m512i hpow[4]; /* lanes of [H^16..H^13], [H^12..H^9], [H^8..H^5], [H^4..H^1], reflected */
  __m128i rk1[15];
  __m128i h; /* H, reflected */
  __m128i x; /* GHASH so far, reflected */
  __m128i ek0; /* E(K, J0): masks the tag */
  __m128i nonce; /* bytes 0..11; 12..15 zero */
  uint8_t ks[16]; /* keystream of the block in progress */
  uint8_t part[16]; /* ciphertext of the block in progress, for GHASH */
  uint64_t length; /* bytes of this segment so far */
  uint32_t ctr; /* counter of the next keystream block */
  unsigned fill; /* bytes of the block in progress done (0..15) */
};

/* GCM's 32-bit counter: a segment holds at most 2^32 - 2 blocks. */
#define VG_MAX_BYTES ((((uint64_t)1 << 32) - 2) * 16)

VG_TARGET static inline __m128i bswap128(__m128i v) {
  return _mm_shuffle_epi8(v, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

VG_TARGET static inline void clmul_acc(__m128i a, __m128i b, __m128i *lo, __m128i *mid, __m128i *hi) {
  *lo = _mm_xor_si128(*lo, _mm_clmulepi64_si128(a, b, 0x00));
  *hi = _mm_xor_si128(*hi, _mm_clmulepi64_si128(a, b, 0x11));
  *mid = _mm_xor_si128(*mid, _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10), _mm_clmulepi64_si128(a, b, 0x01)));
}

/* The 256-bit product (lo, mid, hi) shifted left by one and reduced modulo x^128 + x^7 + x^2 + x + 1. */
VG_TARGET static inline __m128i reduce(__m128i lo, __m128i mid, __m128i hi) {
  __m128i t3 = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
  __m128i t6 = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
  __m128i t7 = _mm_srli_epi32(t3, 31);
  __m128i t8 = _mm_srli_epi32(t6, 31);
  t3 = _mm_slli_epi32(t3, 1);
  t6 = _mm_slli_epi32(t6, 1);
  __m128i t9 = _mm_srli_si128(t7, 12);
  t8 = _mm_slli_si128(t8, 4);
  t7 = _mm_slli_si128(t7, 4);
  t3 = _mm_or_si128(t3, t7);
  t6 = _mm_or_si128(t6, t8);
  t6 = _mm_or_si128(t6, t9);
  t7 = _mm_slli_epi32(t3, 31);
  t8 = _mm_slli_epi32(t3, 30);
  t9 = _mm_slli_epi32(t3, 25);
  t7 = _mm_xor_si128(t7, t8);
  t7 = _mm_xor_si128(t7, t9);
  t8 = _mm_srli_si128(t7, 4);
  t7 = _mm_slli_si128(t7, 12);
  t3 = _mm_xor_si128(t3, t7);
  __m128i t2 = _mm_srli_epi32(t3, 1);
  __m128i t4 = _mm_srli_epi32(t3, 2);
  __m128i t5 = _mm_srli_epi32(t3, 7);
  t2 = _mm_xor_si128(t2, t4);
  t2 = _mm_xor_si128(t2, t5);
  t2 = _mm_xor_si128(t2, t8);
  t3 = _mm_xor_si128(t3, t2);
  return _mm_xor_si128(t6, t3);
}

VG_TARGET static inline __m128i gfmul(__m128i a, __m128i b) {
  __m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;
  clmul_acc(a, b, &lo, &mid, &hi);
  return reduce(lo, mid, hi);
}

VG_TARGET static inline __m128i aes1(const struct vgcm *g, __m128i b) {
  b = _mm_xor_si128(b, g->rk1[0]);
  for (int i = 1; i < 14; i++) b = _mm_aesenc_si128(b, g->rk1[i]);
  return _mm_aesenclast_si128(b, g->rk1[14]);
}

VG_TARGET static inline __m128i counter_block(const struct vgcm *g, uint32_t ctr) {
  return _mm_insert_epi32(g->nonce, (int)__builtin_bswap32(ctr), 3);
}

VG_TARGET static inline void ghash_block(struct vgcm *g, const uint8_t *block) {
  g->x = gfmul(_mm_xor_si128(g->x, bswap128(_mm_loadu_si128((const __m128i *)block))), g->h);
}

/* The AES-256 key schedule with AESKEYGENASSIST (Intel's AES-NI white paper). */

/* w0, w0^w1, w0^w1^w2, w0^w1^w2^w3: each word of a round key folds in the ones before it. */
VG_TARGET static inline __m128i fold_words(__m128i t) {
  t = _mm_xor_si128(t, _mm_slli_si128(t, 4));
  return _mm_xor_si128(t, _mm_slli_si128(t, 8));
}

/* The even round keys: the one two rounds back, and the odd key's last word through S-box, rotation and rcon. */
VG_TARGET static inline __m128i expand_a(__m128i t1, __m128i assist) {
  return _mm_xor_si128(fold_words(t1), _mm_shuffle_epi32(assist, 0xff));
}

/* The odd round keys: the one two rounds back, and the new even key's last word through the S-box. */
VG_TARGET static inline __m128i expand_b(__m128i t1, __m128i t3) {
  return _mm_xor_si128(fold_words(t3), _mm_shuffle_epi32(_mm_aeskeygenassist_si128(t1, 0x00), 0xaa));
}

#define VG_ROUND_PAIR(i, rcon)                                              \
  do {                                                                      \
    t1 = expand_a(t1, _mm_aeskeygenassist_si128(t3, rcon));                 \
    rk[i] = t1;                                                             \
    if ((i) + 1 < 15) {                                                     \
      t3 = expand_b(t1, t3);                                                \
      rk[(i) + 1] = t3;                                                     \
    }                                                                       \
  } while (0)

VG_TARGET static void key_schedule(const uint8_t key[32], __m128i rk[15]) {
  __m128i t1 = _mm_loadu_si128((const __m128i *)key);
  __m128i t3 = _mm_loadu_si128((const __m128i *)(key + 16));
  rk[0] = t1;
  rk[1] = t3;
  VG_ROUND_PAIR(2, 0x01);
  VG_ROUND_PAIR(4, 0x02);
  VG_ROUND_PAIR(6, 0x04);
  VG_ROUND_PAIR(8, 0x08);
  VG_ROUND_PAIR(10, 0x10);
  VG_ROUND_PAIR(12, 0x20);
  VG_ROUND_PAIR(14, 0x40);
}

int vgcm_supported(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("vaes") &&
         __builtin_cpu_supports("vpclmulqdq");
}

VG_TARGET struct vgcm *vgcm_new(const uint8_t key[32]) {
  struct vgcm *g = NULL;
  if (posix_memalign((void **)&g, 64, sizeof *g) != 0) return NULL;
  memset(g, 0, sizeof *g);
  key_schedule(key, g->rk1);
  for (int i = 0; i < 15; i++) g->rk[i] = _mm512_broadcast_i32x4(g->rk1[i]);
  g->h = bswap128(aes1(g, _mm_setzero_si128()));
  __m128i p[17];
  p[1] = g->h;
  for (int i = 2; i <= 16; i++) p[i] = gfmul(p[i - 1], g->h);
  for (int k = 0; k < 4; k++) {
    /* Lane j of hpow[k] multiplies block 4k + j of sixteen: H^(16 - 4k - j). */
    __m512i v = _mm512_castsi128_si512(p[16 - 4 * k]);
    v = _mm512_inserti32x4(v, p[15 - 4 * k], 1);
    v = _mm512_inserti32x4(v, p[14 - 4 * k], 2);
    v = _mm512_inserti32x4(v, p[13 - 4 * k], 3);
    g->hpow[k] = v;
  }
  return g;
}

void vgcm_free(struct vgcm *g) {
  if (!g) return;
  /* The key schedule and H are key material. */
  volatile uint8_t *p = (volatile uint8_t *)g;
  for (size_t i = 0; i < sizeof *g; i++) p[i] = 0;
  free(g);
}

VG_TARGET void vgcm_start(struct vgcm *g, const uint8_t nonce[12]) {
  uint8_t n[16] = {0};
  memcpy(n, nonce, 12);
  g->nonce = _mm_loadu_si128((const __m128i *)n);
  g->ek0 = aes1(g, counter_block(g, 1));
  g->ctr = 2;
  g->x = _mm_setzero_si128();
  g->fill = 0;
  g->length = 0;
}

/* Sixteen blocks at a time: `blocks` is a multiple of 16. */
VG_TARGET static void bulk(struct vgcm *g, const uint8_t *in, uint8_t *out, size_t blocks, int encrypt) {
  const __m512i bswap = _mm512_broadcast_i32x4(_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  /* Byte-swaps the counter in dword 3 of each lane and zeroes the rest (0x80: zero). */
  const __m512i ctr_swap = _mm512_broadcast_i32x4(_mm_set_epi8(12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128));
  const __m512i nonce = _mm512_broadcast_i32x4(g->nonce);
  const __m512i four = _mm512_maskz_set1_epi32(0x8888, 4);
  __m512i ctr = _mm512_add_epi32(_mm512_maskz_set1_epi32(0x8888, (int)g->ctr), _mm512_set_epi32(3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0));
  __m128i x = g->x;
  for (size_t b = 0; b < blocks; b += 16, in += 256, out += 256) {
    __m512i s[4], d[4];
    for (int k = 0; k < 4; k++) {
      s[k] = _mm512_xor_si512(_mm512_or_si512(nonce, _mm512_shuffle_epi8(ctr, ctr_swap)), g->rk[0]);
      ctr = _mm512_add_epi32(ctr, four);
    }
    for (int r = 1; r < 14; r++)
      for (int k = 0; k < 4; k++) s[k] = _mm512_aesenc_epi128(s[k], g->rk[r]);
    for (int k = 0; k < 4; k++) {
      s[k] = _mm512_aesenclast_epi128(s[k], g->rk[14]);
      d[k] = _mm512_loadu_si512((const void *)(in + 64 * k));
    }
    __m512i lo = _mm512_setzero_si512(), mid = lo, hi = lo;
    for (int k = 0; k < 4; k++) {
      __m512i o = _mm512_xor_si512(d[k], s[k]);
      /* GHASH covers the ciphertext: the output when sealing, the input when opening. */
      __m512i c = _mm512_shuffle_epi8(encrypt ? o : d[k], bswap);
      if (k == 0) c = _mm512_xor_si512(c, _mm512_zextsi128_si512(x));
      _mm512_storeu_si512((void *)(out + 64 * k), o);
      lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(c, g->hpow[k], 0x00));
      hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(c, g->hpow[k], 0x11));
      mid = _mm512_xor_si512(mid, _mm512_xor_si512(_mm512_clmulepi64_epi128(c, g->hpow[k], 0x01), _mm512_clmulepi64_epi128(c, g->hpow[k], 0x10)));
    }
#define VG_FOLD(v) \
  _mm_xor_si128(_mm_xor_si128(_mm512_castsi512_si128(v), _mm512_extracti32x4_epi32(v, 1)), _mm_xor_si128(_mm512_extracti32x4_epi32(v, 2), _mm512_extracti32x4_epi32(v, 3)))
    x = reduce(VG_FOLD(lo), VG_FOLD(mid), VG_FOLD(hi));
#undef VG_FOLD
  }
  g->x = x;
  g->ctr += (uint32_t)blocks;
}

VG_TARGET int vgcm_update(struct vgcm *g, const uint8_t *in, uint8_t *out, size_t n, int encrypt) {
  if (n > VG_MAX_BYTES - g->length) return 0;
  size_t i = 0;
  /* The block in progress first. */
  while (g->fill && i < n) {
    uint8_t c = in[i], o = (uint8_t)(c ^ g->ks[g->fill]);
    g->part[g->fill] = encrypt ? o : c;
    out[i++] = o;
    if (++g->fill == 16) {
      ghash_block(g, g->part);
      g->fill = 0;
    }
  }
  size_t blocks = (n - i) / 16, big = blocks & ~(size_t)15;
  if (big) {
    bulk(g, in + i, out + i, big, encrypt);
    i += big * 16;
  }
  for (size_t b = big; b < blocks; b++, i += 16) {
    __m128i d = _mm_loadu_si128((const __m128i *)(in + i));
    __m128i o = _mm_xor_si128(d, aes1(g, counter_block(g, g->ctr++)));
    g->x = gfmul(_mm_xor_si128(g->x, bswap128(encrypt ? o : d)), g->h);
    _mm_storeu_si128((__m128i *)(out + i), o);
  }
  if (i < n) {
    _mm_storeu_si128((__m128i *)g->ks, aes1(g, counter_block(g, g->ctr++)));
    for (; i < n; g->fill++) {
      uint8_t c = in[i], o = (uint8_t)(c ^ g->ks[g->fill]);
      g->part[g->fill] = encrypt ? o : c;
      out[i++] = o;
    }
  }
  g->length += n;
  return 1;
}

VG_TARGET void vgcm_tag(struct vgcm *g, uint8_t tag[16]) {
  if (g->fill) {
    memset(g->part + g->fill, 0, 16 - g->fill);
    ghash_block(g, g->part);
    g->fill = 0;
  }
  /* The lengths block (no additional data), reflected: the ciphertext's bit length in the low half. */
  __m128i lengths = _mm_set_epi64x(0, (long long)(g->length * 8));
  g->x = gfmul(_mm_xor_si128(g->x, lengths), g->h);
  _mm_storeu_si128((__m128i *)tag, _mm_xor_si128(bswap128(g->x), g->ek0));
}

#else /* not x86-64: OpenSSL only */

int vgcm_supported(void) { return 0; }
struct vgcm *vgcm_new(const uint8_t key[32]) {
  (void)key;
  return NULL;
}
void vgcm_free(struct vgcm *g) { (void)g; }
void vgcm_start(struct vgcm *g, const uint8_t nonce[12]) {
  (void)g;
  (void)nonce;
}
int vgcm_update(struct vgcm *g, const uint8_t *in, uint8_t *out, size_t n, int encrypt) {
  (void)g, (void)in, (void)out, (void)n, (void)encrypt;
  return 0;
}
void vgcm_tag(struct vgcm *g, uint8_t tag[16]) {
  (void)g;
  (void)tag;
}

#endif
