// SPDX-License-Identifier: BSD-3-Clause
// Fixed points against independent computations: Eq. 5 (the weights Eq. 4
// converges to) and Eq. 9 (the rates of Eq. 8 for fixed w and x).
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <random>

#include "core/inputs.hpp"
#include "dynshare/single_layer.hpp"
#include "dynshare/snr.hpp"
#include "models/ideal.hpp"
#include "test_helpers.hpp"

using namespace dynshare;
using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Full-batch Eq. 4 (the model's gradient, averaged over M fixed inputs) with a
// small constant step converges geometrically; its limit must be Eq. 5,
// computed here independently by a direct linear solve.
TEST(FixedPoints, Eq4ConvergesToEq5) {
    const int n = 8, k = 5, M = 40;
    const double gamma = 0.05, lr = 0.05;
    std::mt19937_64 rng(7);
    std::normal_distribution<double> normal;
    Mat W0(n, k), X(M, k);
    for (int i = 0; i < n * k; ++i) W0.data()[i] = 1.0 + normal(rng);
    for (int i = 0; i < M * k; ++i) X.data()[i] = normal(rng);
    Mat W = W0;
    for (int it = 0; it < 20000; ++it) {
        Mat G = Mat::Zero(n, k);
        for (int m = 0; m < M; ++m) {
            const Eigen::VectorXd z = W * X.row(m).transpose();
            const double zbar = z.mean();
            for (int i = 0; i < n; ++i)
                for (int j = 0; j < k; ++j) G(i, j) += ideal_grad(z(i), zbar, X(m, j), W(i, j), W0(i, j), gamma) / M;
        }
        W -= lr * G;
    }
    const Mat C = X.transpose() * X / double(M);
    const Eigen::VectorXd mean0 = W0.colwise().mean().transpose();
    Mat expected(n, k);
    const Eigen::LDLT<Mat> solver(C + gamma * Mat::Identity(k, k));
    for (int i = 0; i < n; ++i)
        expected.row(i) = solver.solve(C * mean0 + gamma * W0.row(i).transpose()).transpose();
    EXPECT_LT((W - expected).norm() / expected.norm(), 1e-6);
    // The library's Eq. 5 agrees with the independent solve.
    std::vector<double> c(C.data(), C.data() + k * k), w0(W0.data(), W0.data() + n * k);
    const std::vector<double> lib = eq5_fixed_point(c, w0, n, k, gamma);
    EXPECT_LT((Eigen::Map<const Mat>(lib.data(), n, k) - expected).norm() / expected.norm(), 1e-12);
}

// Eq. 9: for fixed w and x the rates settle at r_i* = b + z_i - zbar + zbar/(1+alpha),
// r_inh* = zbar/(1+alpha), for any alpha >= 0 (the inhibitory loop is stable).
TEST(FixedPoints, RatesReachEq9ForSeveralAlpha) {
    for (double alpha : {0.0, 1.0, 10.0, 100.0}) {
        SimConfig cfg;
        cfg.layer.neurons = 10;
        cfg.layer.kernel = 3;
        cfg.dynamics.alpha = alpha;
        cfg.dynamics.dt = 1e-4;                     // Euler, well resolved for alpha = 100
        cfg.plasticity.lr = 0.0;                    // weights fixed
        cfg.input.presentation = 2.0;               // 66 tau: transients < e^-66
        cfg.run.presentations = 1;
        cfg.run.record_every = 1000000;
        RecordingObserver obs;
        const RunResult res = run_single_layer(cfg, obs);
        const SingleLayerInputs in(cfg);
        std::vector<double> x(9);
        in.shared(0, x.data());
        const std::vector<double> w = in.initial_weights();
        std::vector<double> z(10);
        double zbar = 0.0;
        for (int i = 0; i < 10; ++i) {
            for (int j = 0; j < 9; ++j) z[i] += w[i * 9 + j] * x[j];
            zbar += z[i] / 10.0;
        }
        for (int i = 0; i < 10; ++i)
            EXPECT_NEAR(res.state.layers[0].r[i], 1.0 + z[i] - zbar + zbar / (1.0 + alpha), 1e-9) << "alpha " << alpha;
        EXPECT_NEAR(res.state.layers[0].r_inh[0], zbar / (1.0 + alpha), 1e-9) << "alpha " << alpha;
    }
}
