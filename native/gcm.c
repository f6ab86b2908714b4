/*
 * AES-256-GCM for image segments, through the OpenSSL that Node itself links.
 *
 * Why not node:crypto: its update() allocates a fresh output buffer per call and needs a new
 * cipher object (and key schedule) per segment; on a download that was about half of what
 * decryption cost the event loop (see bench/README.md, "encryption"). Here one context per
 * image keeps its key schedule, a segment starts with a new nonce only, and bytes are
 * transformed into a buffer the caller chooses, the input itself included (in place).
 * The result is byte-for-byte what node:crypto produces: the two are interchangeable.
 */
#include <node_api.h>
#include <openssl/evp.h>

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, "ERR_GLIMPSE_GCM", message);
  return NULL;
}

static void free_context(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *)data);
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

static EVP_CIPHER_CTX *context(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external) return NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return (EVP_CIPHER_CTX *)p;
}

/* create(key: 32-byte Buffer, encrypt: boolean): an opaque context holding the key schedule. */
static napi_value create(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  unsigned char *key;
  size_t key_length;
  bool encrypt;
  if (!args(env, info, 2, argv) || !bytes(env, argv[0], &key, &key_length) || key_length != 32 ||
      napi_get_value_bool(env, argv[1], &encrypt) != napi_ok)
    return fail(env, "create(key: 32-byte Buffer, encrypt: boolean)");
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx || EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, NULL, encrypt ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return fail(env, "AES-256-GCM could not be set up");
  }
  if (napi_create_external(env, ctx, free_context, NULL, &out) != napi_ok) {
    EVP_CIPHER_CTX_free(ctx);
    return fail(env, "AES-256-GCM could not be set up");
  }
  return out;
}

/* start(ctx, nonce: 12-byte Buffer): begins a segment; the key schedule is kept. */
static napi_value start(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  unsigned char *iv;
  size_t iv_length;
  EVP_CIPHER_CTX *ctx;
  if (!args(env, info, 2, argv) || !(ctx = context(env, argv[0])) || !bytes(env, argv[1], &iv, &iv_length) || iv_length != 12)
    return fail(env, "start(ctx, nonce: 12-byte Buffer)");
  if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, -1) != 1) return fail(env, "AES-256-GCM could not start a segment");
  return NULL;
}

/* update(ctx, from, to): transforms `from` into `to` (same length; `to` may be `from`). */
static napi_value update(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  unsigned char *from, *to;
  size_t from_length, to_length;
  int written = 0;
  EVP_CIPHER_CTX *ctx;
  if (!args(env, info, 3, argv) || !(ctx = context(env, argv[0])) || !bytes(env, argv[1], &from, &from_length) ||
      !bytes(env, argv[2], &to, &to_length) || from_length != to_length || from_length > 0x7fffffff)
    return fail(env, "update(ctx, from: Buffer, to: Buffer of the same length)");
  /* GCM is a stream mode: output and input are the same length, and exact overlap is allowed. */
  if (from_length > 0 && (EVP_CipherUpdate(ctx, to, &written, from, (int)from_length) != 1 || (size_t)written != from_length))
    return fail(env, "AES-256-GCM update failed");
  return NULL;
}

/* finish(ctx, tag: 16-byte Buffer): sealing, writes the tag into it; opening, checks it. Returns whether all holds. */
static napi_value finish(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  unsigned char *tag, none[16];
  size_t tag_length;
  int written = 0, ok;
  EVP_CIPHER_CTX *ctx;
  if (!args(env, info, 2, argv) || !(ctx = context(env, argv[0])) || !bytes(env, argv[1], &tag, &tag_length) || tag_length != 16)
    return fail(env, "finish(ctx, tag: 16-byte Buffer)");
  if (EVP_CIPHER_CTX_is_encrypting(ctx)) {
    ok = EVP_CipherFinal_ex(ctx, none, &written) == 1 && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
  } else {
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 && EVP_CipherFinal_ex(ctx, none, &written) == 1;
  }
  if (napi_get_boolean(env, ok, &out) != napi_ok) return NULL;
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, start, NULL, NULL, NULL, napi_default, NULL},
      {"update", NULL, update, NULL, NULL, NULL, napi_default, NULL},
      {"finish", NULL, finish, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
