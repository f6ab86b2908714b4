/* AES-256-GCM on VAES and VPCLMULQDQ (vaes-gcm.c); only where vgcm_supported() says so. */
#ifndef GLIMPSE_VAES_GCM_H
#define GLIMPSE_VAES_GCM_H

#include <stddef.h>
#include <stdint.h>

struct vgcm;

/* Whether this CPU (and OS) can run it. */
int vgcm_supported(void);
/* A context holding the key schedule and the powers of H; NULL when out of memory. */
struct vgcm *vgcm_new(const uint8_t key[32]);
/* Wipes and frees. */
void vgcm_free(struct vgcm *g);
/* Begins a segment under a 12-byte nonce (no additional data). */
void vgcm_start(struct vgcm *g, const uint8_t nonce[12]);
/* Seals or opens n more bytes; `out` may be `in`. 0 when the segment would exceed GCM's limit. */
int vgcm_update(struct vgcm *g, const uint8_t *in, uint8_t *out, size_t n, int encrypt);
/* Ends the segment: its 16-byte tag. */
void vgcm_tag(struct vgcm *g, uint8_t tag[16]);

#endif
