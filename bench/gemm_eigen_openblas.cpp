// SPDX-License-Identifier: BSD-3-Clause
// Standalone (not built by CMake; needs Debian libopenblas-dev and a build of
// dynshare in build/ for its block kernels, libdynshare_core.a):
//   g++ -O2 -std=c++17 -DEIGEN_DONT_PARALLELIZE -I/usr/include/eigen3 -Isrc -Iinclude bench/gemm_eigen_openblas.cpp \
//       build/libdynshare_core.a -o gemm_eigen_openblas -lopenblas -fopenmp
//   OPENBLAS_NUM_THREADS=1 taskset -c 1 ./gemm_eigen_openblas
// Add -march=native to see Eigen with the CPU's vector units (the default build is portable).
// Eigen's GEMM kernels, OpenBLAS and dynshare's block kernels (the instruction
// set in use, core/block_gemm.hpp), one thread each, on the block algorithm's
// shapes: drives O (rows x P) = A (rows x k, row-major) X (k x P), and the
// update W (rows x k) += C (rows x P) X^T.
#include <cblas.h>

#include "core/block_gemm.hpp"
#include <Eigen/Dense>
#include <chrono>
#include <cstdio>
#include <vector>
using RowMat = Eigen::Matrix<double, -1, -1, Eigen::RowMajor>;
using ColMat = Eigen::Matrix<double, -1, -1, Eigen::ColMajor>;
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
int main() {
    const int rows = 256;
    for (int k : {144, 576})
        for (int P : {10, 20, 50}) {
            const int chunks = 2000;  // distinct row chunks, as over a layer
            RowMat A = RowMat::Random(rows * chunks, k);
            ColMat X = ColMat::Random(k, P);
            RowMat O(rows * chunks, P), O2(rows * chunks, P), C = RowMat::Random(rows * chunks, P);
            RowMat W = A, W2 = A;
            double best_e = 1e9, best_b = 1e9, best_eu = 1e9, best_bu = 1e9, best_d = 1e9, best_du = 1e9;
            const dynshare::BlockGemm<double> g = dynshare::block_gemm<double>(dynshare::block_isa());
            const int nd = int((P + g.lanes - 1) / g.lanes * g.lanes);
            RowMat Xr = RowMat::Zero(k, nd);  // X row-major, padded to whole vectors (as core/block.cpp)
            Xr.leftCols(P) = X;
            RowMat O3(rows, nd), W3 = A;
            std::vector<const double*> arow(rows);
            for (int rep = 0; rep < 3; ++rep) {
                double t = now();
                for (int c = 0; c < chunks; ++c) {
                    Eigen::Map<const RowMat> a(A.data() + size_t(c) * rows * k, rows, k);
                    Eigen::Map<RowMat> o(O.data() + size_t(c) * rows * P, rows, P);
                    o.noalias() = a * X;
                }
                best_e = std::min(best_e, now() - t);
                t = now();
                for (int c = 0; c < chunks; ++c)
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, P, k, 1.0, A.data() + size_t(c) * rows * k, k,
                                X.data(), k, 0.0, O2.data() + size_t(c) * rows * P, P);
                best_b = std::min(best_b, now() - t);
                t = now();
                for (int c = 0; c < chunks; ++c) {
                    Eigen::Map<RowMat> w(W.data() + size_t(c) * rows * k, rows, k);
                    Eigen::Map<const RowMat> cc(C.data() + size_t(c) * rows * P, rows, P);
                    w.noalias() += cc * X.transpose();
                }
                best_eu = std::min(best_eu, now() - t);
                t = now();
                for (int c = 0; c < chunks; ++c)
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, k, P, 1.0, C.data() + size_t(c) * rows * P, P,
                                X.data(), k, 1.0, W2.data() + size_t(c) * rows * k, k);
                best_bu = std::min(best_bu, now() - t);
                t = now();
                for (int c = 0; c < chunks; ++c) {
                    for (int r = 0; r < rows; ++r) arow[r] = A.data() + (size_t(c) * rows + r) * k;
                    g.drives(rows, nd, k, arow.data(), Xr.data(), nd, O3.data(), nd, false);
                }
                best_d = std::min(best_d, now() - t);
                t = now();
                for (int c = 0; c < chunks; ++c) {
                    for (int r = 0; r < rows; ++r) arow[r] = C.data() + (size_t(c) * rows + r) * P;
                    // X col-major (k x P) is X^T row-major (P x k): the update's B.
                    g.update(rows, k, P, arow.data(), X.data(), k, W3.data() + size_t(c) * rows * k, k, true);
                }
                best_du = std::min(best_du, now() - t);
            }
            const double fl = 2.0 * rows * chunks * double(k) * P;
            std::printf("k %3d P %2d: drives Eigen %5.1f  OpenBLAS %5.1f  dynshare %5.1f GF/s (max diff %.1e) | update Eigen %5.1f  OpenBLAS %5.1f  dynshare %5.1f (%s)\n",
                        k, P, fl / best_e / 1e9, fl / best_b / 1e9, fl / best_d / 1e9, (O - O2).cwiseAbs().maxCoeff(),
                        fl / best_eu / 1e9, fl / best_bu / 1e9, fl / best_du / 1e9, g.name);
        }
}
