/*
 * glyphs.h — the synthetic few-shot task generator of the C examples: a stand-in for your own
 * data, not part of libmamlpp. Class c is a glyph of GLYPH_STROKES pen strokes drawn from a seed;
 * an example is that glyph shifted, with wobbling end points and pixel noise, on a
 * GLYPH_SIDE x GLYPH_SIDE canvas. Deterministic: the same class id and generator state give the
 * same pixels. Shared by examples/c/quickstart.c and the test suite's fixture.
 */
#ifndef MAMLPP_EXAMPLES_GLYPHS_H
#define MAMLPP_EXAMPLES_GLYPHS_H

#include <math.h>
#include <stdint.h>

#define GLYPH_SIDE 28
#define GLYPH_STROKES 3

typedef struct rng {
  uint64_t state;
} rng;

static inline uint64_t rng_next(rng* r) { /* splitmix64 */
  uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline float rng_uniform(rng* r) { return (float)(rng_next(r) >> 40) / 16777216.0f; } /* [0,1) */

static inline float rng_range(rng* r, float lo, float hi) { return lo + (hi - lo) * rng_uniform(r); }

static inline float rng_normal(rng* r) { /* Irwin-Hall: close enough to a standard normal here */
  float s = 0.0f;
  int i;
  for (i = 0; i < 12; ++i) s += rng_uniform(r);
  return s - 6.0f;
}

typedef struct stroke {
  float x0, y0, x1, y1;
} stroke;

/* The glyph of a class: GLYPH_STROKES pen strokes inside the central 20x20 area. */
static inline void class_glyph(uint32_t class_id, stroke glyph[GLYPH_STROKES]) {
  rng r;
  int i;
  r.state = 0xC1A55ull * 0x100000001B3ull + class_id;
  for (i = 0; i < GLYPH_STROKES; ++i) {
    glyph[i].x0 = rng_range(&r, 4.0f, 24.0f);
    glyph[i].y0 = rng_range(&r, 4.0f, 24.0f);
    glyph[i].x1 = rng_range(&r, 4.0f, 24.0f);
    glyph[i].y1 = rng_range(&r, 4.0f, 24.0f);
  }
}

static inline float segment_distance(float px, float py, const stroke* s) {
  const float dx = s->x1 - s->x0, dy = s->y1 - s->y0;
  const float len2 = dx * dx + dy * dy;
  float t = len2 > 0.0f ? ((px - s->x0) * dx + (py - s->y0) * dy) / len2 : 0.0f;
  float ex, ey;
  if (t < 0.0f) t = 0.0f;
  if (t > 1.0f) t = 1.0f;
  ex = px - (s->x0 + t * dx);
  ey = py - (s->y0 + t * dy);
  return sqrtf(ex * ex + ey * ey);
}

/* One example of a class: its glyph, shifted, with wobbling end points, plus pixel noise. */
static inline void draw_example(uint32_t class_id, rng* r, float* image) {
  stroke glyph[GLYPH_STROKES];
  const float shift_x = rng_range(r, -2.0f, 2.0f), shift_y = rng_range(r, -2.0f, 2.0f);
  int i, x, y;
  class_glyph(class_id, glyph);
  for (i = 0; i < GLYPH_STROKES; ++i) {
    glyph[i].x0 += shift_x + rng_range(r, -1.0f, 1.0f);
    glyph[i].y0 += shift_y + rng_range(r, -1.0f, 1.0f);
    glyph[i].x1 += shift_x + rng_range(r, -1.0f, 1.0f);
    glyph[i].y1 += shift_y + rng_range(r, -1.0f, 1.0f);
  }
  for (y = 0; y < GLYPH_SIDE; ++y) {
    for (x = 0; x < GLYPH_SIDE; ++x) {
      float ink = 0.0f;
      for (i = 0; i < GLYPH_STROKES; ++i) {
        const float d = segment_distance((float)x, (float)y, &glyph[i]);
        const float v = expf(-d * d / 1.5f); /* a soft pen about two pixels wide */
        if (v > ink) ink = v;
      }
      image[y * GLYPH_SIDE + x] = ink + 0.15f * rng_normal(r);
    }
  }
}

#endif /* MAMLPP_EXAMPLES_GLYPHS_H */
