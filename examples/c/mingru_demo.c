/* mingru_demo.c: calling a seqc kernel from C.
 *
 * Build (what `make run` does):
 *   seqc examples/mingru.seq --emit obj    -o mingru.o
 *   seqc examples/mingru.seq --emit header -o mingru.h
 *   cc -O2 -I. examples/c/mingru_demo.c mingru.o -lm -lpthread -o mingru_demo
 *
 * It runs minGRU over a batch of sequences, once in one call and once in two
 * calls that carry the state (as streaming inference would), and compares
 * both with a plain C loop over the same math in double precision. Then it
 * takes one gradient step: the loss 0.5 * sum(y^2), its gradient by the
 * params from mingru_forward_tape and mingru_backward, one SGD update of Wz
 * and Wh, and the loss again, which must go down by what the gradient
 * predicts. Exit code 0 when all agree, 1 otherwise. */
#include "mingru.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { B = 4, T = 3000, D = 64, H = 128, T_FIRST = 1000 };

/* A small deterministic generator, so that the demo needs no data files. */
static float uniform(unsigned *seed, float lo, float hi) {
  *seed = *seed * 1664525u + 1013904223u;
  return lo + (hi - lo) * (float)(*seed >> 8) / (float)(1u << 24);
}

/* minGRU step by step: z = sigmoid(Wz x), hc = Wh x, h = (1 - z) h + z hc. */
static void reference(const float *x, const float *Wz, const float *Wh, double *y) {
  for (int b = 0; b < B; ++b) {
    double h[H] = {0};
    for (int t = 0; t < T; ++t) {
      const float *xt = x + ((size_t)b * T + t) * D;
      for (int i = 0; i < H; ++i) {
        double gz = 0, gh = 0;
        for (int j = 0; j < D; ++j) {
          gz += (double)Wz[i * D + j] * xt[j];
          gh += (double)Wh[i * D + j] * xt[j];
        }
        double z = 1 / (1 + exp(-gz));
        h[i] = (1 - z) * h[i] + z * gh;
        y[((size_t)b * T + t) * H + i] = h[i];
      }
    }
  }
}

static double max_error(const float *actual, const double *expected, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    double e = fabs(actual[i] - expected[i]);
    if (!(e <= worst)) /* NaN is the worst */
      worst = isnan(e) ? INFINITY : e;
  }
  return worst;
}

static double half_sum_of_squares(const float *v, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i)
    sum += 0.5 * (double)v[i] * v[i];
  return sum;
}

/* One SGD step on L = 0.5 * sum(y^2): dL/dy = y. The step is sized to lower
 * L by 10 % to first order (lr = 0.1 L / |dL/dW|^2); returns the decrease
 * it made divided by that prediction (near 1 when the gradient is right),
 * or -1 when a call failed. */
static double gradient_step(const float *x, float *Wz, float *Wh, float *y, double *before,
                            double *after) {
  size_t n = (size_t)B * T * H;
  void *tape = malloc((size_t)mingru_tape_bytes(B, T));
  float *dWz = malloc(sizeof(float) * H * D), *dWh = malloc(sizeof(float) * H * D);
  if (!tape || !dWz || !dWh)
    return -1;
  int status = mingru_forward_tape(B, T, x, Wz, Wh, NULL, y, NULL, tape);
  *before = half_sum_of_squares(y, n);
  /* Cotangent of y is y itself; no final-state cotangent, no input or
   * initial-state gradient wanted. */
  if (status == SEQC_STATUS_OK)
    status = mingru_backward(B, T, x, Wz, Wh, NULL, tape, y, NULL, NULL, dWz, dWh, NULL);
  if (status != SEQC_STATUS_OK) {
    fprintf(stderr, "gradient step: a call returned %d\n", status);
    return -1;
  }
  double norm2 = 0;
  for (int i = 0; i < H * D; ++i)
    norm2 += (double)dWz[i] * dWz[i] + (double)dWh[i] * dWh[i];
  double lr = 0.1 * *before / norm2;
  for (int i = 0; i < H * D; ++i) {
    Wz[i] -= (float)(lr * dWz[i]);
    Wh[i] -= (float)(lr * dWh[i]);
  }
  status = mingru_forward(B, T, x, Wz, Wh, NULL, y, NULL);
  *after = half_sum_of_squares(y, n);
  free(tape); free(dWz); free(dWh);
  return status == SEQC_STATUS_OK ? (*before - *after) / (lr * norm2) : -1;
}

int main(void) {
  unsigned seed = 42;
  float *x = malloc(sizeof(float) * B * T * D);
  float *Wz = malloc(sizeof(float) * H * D), *Wh = malloc(sizeof(float) * H * D);
  float *y = malloc(sizeof(float) * B * T * H), *h = malloc(sizeof(float) * B * H);
  double *expected = malloc(sizeof(double) * B * T * H);
  if (!x || !Wz || !Wh || !y || !h || !expected)
    return 1;
  for (int i = 0; i < B * T * D; ++i)
    x[i] = uniform(&seed, -1, 1);
  for (int i = 0; i < H * D; ++i) {
    Wz[i] = uniform(&seed, -0.125f, 0.125f); /* +-1/sqrt(D) */
    Wh[i] = uniform(&seed, -0.125f, 0.125f);
  }
  reference(x, Wz, Wh, expected);

  /* One call; NULL initial state means the declared h = 0. */
  int status = mingru_forward(B, T, x, Wz, Wh, NULL, y, h);
  if (status != SEQC_STATUS_OK) {
    fprintf(stderr, "mingru_forward returned %d\n", status);
    return 1;
  }
  double whole = max_error(y, expected, (size_t)B * T * H);

  /* Two calls: steps [0, T_FIRST), then the rest starting from h. The inputs
   * and outputs of each call are [B, steps, ...], so each piece is copied out
   * of the [B, T, ...] arrays. */
  enum { T_REST = T - T_FIRST };
  float *x1 = malloc(sizeof(float) * B * T_FIRST * D), *x2 = malloc(sizeof(float) * B * T_REST * D);
  float *y1 = malloc(sizeof(float) * B * T_FIRST * H), *y2 = malloc(sizeof(float) * B * T_REST * H);
  float *h1 = malloc(sizeof(float) * B * H), *h2 = malloc(sizeof(float) * B * H);
  if (!x1 || !x2 || !y1 || !y2 || !h1 || !h2)
    return 1;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < D; ++j) {
        float v = x[((size_t)b * T + t) * D + j];
        if (t < T_FIRST)
          x1[((size_t)b * T_FIRST + t) * D + j] = v;
        else
          x2[((size_t)b * T_REST + t - T_FIRST) * D + j] = v;
      }
  status = mingru_forward(B, T_FIRST, x1, Wz, Wh, NULL, y1, h1);
  if (status == SEQC_STATUS_OK)
    status = mingru_forward(B, T_REST, x2, Wz, Wh, h1, y2, h2);
  if (status != SEQC_STATUS_OK) {
    fprintf(stderr, "mingru_forward returned %d\n", status);
    return 1;
  }
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < H; ++i)
        y[((size_t)b * T + t) * H + i] = t < T_FIRST ? y1[((size_t)b * T_FIRST + t) * H + i]
                                                     : y2[((size_t)b * T_REST + t - T_FIRST) * H + i];
  double pieces = max_error(y, expected, (size_t)B * T * H);
  double finals = 0;
  for (int i = 0; i < B * H; ++i)
    finals = fmax(finals, fabs(h[i] - h2[i]));

  /* A bad call returns a code instead of aborting. */
  int bad = mingru_forward(-1, T, x, Wz, Wh, NULL, y, h);

  printf("minGRU, B=%d T=%d D=%d H=%d\n", B, T, D, H);
  printf("  one call:  max |y - reference| = %.2e\n", whole);
  printf("  two calls: max |y - reference| = %.2e, max |h_final difference| = %.2e\n", pieces,
         finals);
  printf("  B = -1 returns %d\n", bad);
  double before = 0, after = 0;
  double achieved = gradient_step(x, Wz, Wh, y, &before, &after);
  printf("  one SGD step on 0.5 sum(y^2): %.6g -> %.6g (%.2f of the first-order decrease)\n",
         before, after, achieved);
  int ok = whole < 1e-4 && pieces < 1e-4 && finals < 1e-5 && bad == SEQC_STATUS_BAD_SIZE &&
           after < before && achieved > 0.8 && achieved < 1.2;
  printf("%s\n", ok ? "OK" : "MISMATCH");
  free(x); free(Wz); free(Wh); free(y); free(h); free(expected);
  free(x1); free(x2); free(y1); free(y2); free(h1); free(h2);
  return ok ? 0 : 1;
}
