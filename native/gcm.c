/*
 * AES-256-GCM for image segments: vaes-gcm.c where the CPU has VAES and VPCLMULQDQ (and that
 * code matched OpenSSL when this module loaded), else the OpenSSL that Node itself links.
 *
 * Why not node:crypto: its update() allocates a fresh output buffer per call and needs a new
 * cipher object (and key schedule) per segment; on a download that was about half of what
 * decryption cost the event loop (see bench/README.md, "encryption"). Here one context per
 * image keeps its key schedule, a segment starts with a new nonce only, and bytes are
 * transformed into a buffer the caller chooses, the input itself included (in place).
 * Either way the result is byte-for-byte what node:crypto produces: all are interchangeable.
 */
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "vaes-gcm.h"

/* One image's context: the VAES code where the CPU has it (and it passed the load check), else OpenSSL's. */
typedef struct {
  EVP_CIPHER_CTX *evp;
  struct vgcm *fast;
  int encrypt;
} gcm_ctx;

/* Set at load: whether new contexts may use vaes-gcm.c (the CPU has it and it agrees with OpenSSL). */
static int fast_ok = 0;

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, "ERR_GLIMPSE_GCM", message);
  return NULL;
}

static void free_ctx(gcm_ctx *ctx) {
  if (!ctx) return;
  EVP_CIPHER_CTX_free(ctx->evp);
  vgcm_free(ctx->fast);
  free(ctx);
}

static void free_context(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free_ctx((gcm_ctx *)data);
}

static gcm_ctx *new_ctx(const unsigned char *key, int encrypt, int fast) {
  gcm_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return NULL;
  ctx->encrypt = encrypt;
  if (fast) {
    if (!(ctx->fast = vgcm_new(key))) goto failed;
    return ctx;
  }
  if (!(ctx->evp = EVP_CIPHER_CTX_new()) || EVP_CipherInit_ex(ctx->evp, EVP_aes_256_gcm(), NULL, key, NULL, encrypt ? 1 : 0) != 1) goto failed;
  return ctx;
failed:
  free_ctx(ctx);
  return NULL;
}

static int ctx_start(gcm_ctx *ctx, const unsigned char *iv) {
  if (ctx->fast) {
    vgcm_start(ctx->fast, iv);
    return 1;
  }
  return EVP_CipherInit_ex(ctx->evp, NULL, NULL, NULL, iv, -1) == 1;
}

static int ctx_update(gcm_ctx *ctx, const unsigned char *from, unsigned char *to, size_t length) {
  int written = 0;
  if (length == 0) return 1;
  if (ctx->fast) return vgcm_update(ctx->fast, from, to, length, ctx->encrypt);
  /* GCM is a stream mode: output and input are the same length, and exact overlap is allowed. */
  return length <= 0x7fffffff && EVP_CipherUpdate(ctx->evp, to, &written, from, (int)length) == 1 && (size_t)written == length;
}

/* Sealing writes the tag; opening checks it (in constant time). */
static int ctx_finish(gcm_ctx *ctx, unsigned char *tag) {
  unsigned char none[16];
  int written = 0;
  if (ctx->fast) {
    unsigned char mine[16];
    vgcm_tag(ctx->fast, mine);
    if (ctx->encrypt) {
      memcpy(tag, mine, 16);
      return 1;
    }
    return CRYPTO_memcmp(mine, tag, 16) == 0;
  }
  if (ctx->encrypt) {
    return EVP_CipherFinal_ex(ctx->evp, none, &written) == 1 && EVP_CIPHER_CTX_ctrl(ctx->evp, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
  }
  return EVP_CIPHER_CTX_ctrl(ctx->evp, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 && EVP_CipherFinal_ex(ctx->evp, none, &written) == 1;
}

static int args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  return napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == want;
}

static int bytes(napi_env env, napi_value v, unsigned char **data, size_t *length) {
  bool is;
  void *d;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_buffer_info(env, v, &d, length) != napi_ok) return 0;
  *data = d;
  return 1;
}

static gcm_ctx *context(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external) return NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return (gcm_ctx *)p;
}

/*
 * Seals a fixed 1,000-byte message, fed in uneven pieces, with both implementations and opens it
 * again: the VAES code is used only if it matches OpenSSL byte for byte, rejects a changed tag,
 * and so on. Run once, when the module loads.
 */
static int fast_agrees(void) {
  unsigned char key[32], iv[12], plain[1000], a[1000], b[1000], tag_a[16], tag_b[16];
  const size_t cuts[] = {0, 1, 15, 16, 17, 255, 256, 300, 512, 700, 999, 1000};
  int ok = 1;
  for (size_t i = 0; i < sizeof key; i++) key[i] = (unsigned char)(i * 7 + 1);
  for (size_t i = 0; i < sizeof iv; i++) iv[i] = (unsigned char)(i * 13 + 5);
  for (size_t i = 0; i < sizeof plain; i++) plain[i] = (unsigned char)(i * 31 + (i >> 3));
  gcm_ctx *fast = new_ctx(key, 1, 1), *slow = new_ctx(key, 1, 0), *open = new_ctx(key, 0, 1);
  if (!fast || !slow || !open) ok = 0;
  for (size_t c = 0; ok && c + 1 < sizeof cuts / sizeof cuts[0]; c++) {
    /* A message of cuts[c + 1] bytes, fed as [0, cuts[c]) and the rest in place. */
    size_t n = cuts[c + 1], first = cuts[c];
    memcpy(b, plain, n);
    ok = ctx_start(fast, iv) && ctx_start(slow, iv) && ctx_update(fast, plain, a, first) && ctx_update(fast, plain + first, a + first, n - first) &&
         ctx_update(slow, b, b, n) && ctx_finish(fast, tag_a) && ctx_finish(slow, tag_b) && memcmp(a, b, n) == 0 && memcmp(tag_a, tag_b, 16) == 0;
    ok = ok && ctx_start(open, iv) && ctx_update(open, a, a, n) && ctx_finish(open, tag_a) && memcmp(a, plain, n) == 0;
    tag_b[c % 16] ^= 1;
    ok = ok && ctx_start(open, iv) && ctx_update(open, b, b, n) && !ctx_finish(open, tag_b);
  }
  free_ctx(fast);
  free_ctx(slow);
  free_ctx(open);
  return ok;
}

/* create(key: 32-byte Buffer, encrypt: boolean, openssl?: boolean): an opaque context holding the key schedule. */
static napi_value create(napi_env env, napi_callback_info info) {
  napi_value argv[3], out;
  size_t argc = 3;
  unsigned char *key;
  size_t key_length;
  bool encrypt, openssl = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || !bytes(env, argv[0], &key, &key_length) ||
      key_length != 32 || napi_get_value_bool(env, argv[1], &encrypt) != napi_ok || (argc > 2 && napi_get_value_bool(env, argv[2], &openssl) != napi_ok))
    return fail(env, "create(key: 32-byte Buffer, encrypt: boolean, openssl?: boolean)");
  gcm_ctx *ctx = new_ctx(key, encrypt, fast_ok && !openssl);
  if (!ctx) return fail(env, "AES-256-GCM could not be set up");
  if (napi_create_external(env, ctx, free_context, NULL, &out) != napi_ok) {
    free_ctx(ctx);
    return fail(env, "AES-256-GCM could not be set up");
  }
  return out;
}

/* start(ctx, nonce: 12-byte Buffer): begins a segment; the key schedule is kept. */
static napi_value start(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  unsigned char *iv;
  size_t iv_length;
  gcm_ctx *ctx;
  if (!args(env, info, 2, argv) || !(ctx = context(env, argv[0])) || !bytes(env, argv[1], &iv, &iv_length) || iv_length != 12)
    return fail(env, "start(ctx, nonce: 12-byte Buffer)");
  if (!ctx_start(ctx, iv)) return fail(env, "AES-256-GCM could not start a segment");
  return NULL;
}

/* update(ctx, from, to): transforms `from` into `to` (same length; `to` may be `from`). */
static napi_value update(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  unsigned char *from, *to;
  size_t from_length, to_length;
  gcm_ctx *ctx;
  if (!args(env, info, 3, argv) || !(ctx = context(env, argv[0])) || !bytes(env, argv[1], &from, &from_length) ||
      !bytes(env, argv[2], &to, &to_length) || from_length != to_length)
    return fail(env, "update(ctx, from: Buffer, to: Buffer of the same length)");
  if (!ctx_update(ctx, from, to, from_length)) return fail(env, "AES-256-GCM update failed");
  return NULL;
}

/* finish(ctx, tag: 16-byte Buffer): sealing, writes the tag into it; opening, checks it. Returns whether all holds. */
static napi_value finish(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  unsigned char *tag;
  size_t tag_length;
  gcm_ctx *ctx;
  if (!args(env, info, 2, argv) || !(ctx = context(env, argv[0])) || !bytes(env, argv[1], &tag, &tag_length) || tag_length != 16)
    return fail(env, "finish(ctx, tag: 16-byte Buffer)");
  if (napi_get_boolean(env, ctx_finish(ctx, tag), &out) != napi_ok) return NULL;
  return out;
}

NAPI_MODULE_INIT() {
  napi_value implementation;
  fast_ok = vgcm_supported() && fast_agrees();
  /* Which code new contexts run: for the server's log and the tests. */
  if (napi_create_string_utf8(env, fast_ok ? "vaes-avx512" : "openssl", NAPI_AUTO_LENGTH, &implementation) != napi_ok) return NULL;
  napi_property_descriptor props[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, start, NULL, NULL, NULL, napi_default, NULL},
      {"update", NULL, update, NULL, NULL, NULL, napi_default, NULL},
      {"finish", NULL, finish, NULL, NULL, NULL, napi_default, NULL},
      {"implementation", NULL, NULL, NULL, NULL, implementation, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
