// The scale searches of llama.cpp's ggml-quants.c (static there), shared by lowbit's
// k-quant and legacy-type row functions. Each reproduces ggml's float arithmetic step
// for step (same operation order, same integer truncations), because the block formats
// must match llama.cpp byte for byte; see the .cpp for what each search optimises.
#pragma once
#include <cstdint>

namespace lowbit::ggml {

// ggml's round-to-nearest via the 1.5*2^23 magic add: ties go to even, and only
// |fval| <= 4194303 is meaningful (beyond that it returns what ggml's trick returns).
int nearest_int(float fval);

// Symmetric scale for L in [0, 2*nmax) (stored with +nmax), maximising the weighted
// projection; rmse_type selects the weights when qw is null (1: x^2, 2: 1, 3: |x|,
// else sqrt|x|), 0 means "no search", negative returns after the first pass.
float make_qx_quants(int n, int nmax, const float* x, std::int8_t* L, int rmse_type, const float* qw);

// Q3_K's symmetric search with x^2 weights and coordinate-descent refinement.
float make_q3_quants(int n, int nmax, const float* x, std::int8_t* L, bool do_rmse);

// Asymmetric scale+min (returned scale, *the_min = -min >= 0) for L in [0, nmax],
// trying nstep+1 scales (rmin + rdelta*is + nmax)/(max - min) and least squares.
// make_qkx3_quants is the same search but takes weights == nullptr as x^2.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, std::uint8_t* L, float* the_min,
                       std::uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, std::uint8_t* L, float* the_min,
                       std::uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

// Non-negative values (sub-block scales or mins) to L in [0, nmax] under one scale,
// weighted by quant_weights (required).
float make_qp_quants(int n, int nmax, const float* x, std::uint8_t* L, const float* quant_weights);

}  // namespace lowbit::ggml
