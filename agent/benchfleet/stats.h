/*
 * stats: the alert test (DESIGN.md 4.12), pure functions.
 *
 * An alert asks: is a fault code's rate among a model's cases of the last 7 days higher than
 * among its cases of the 8 weeks before? Both rates are estimates, so the test is Fisher's
 * exact test on the 2x2 table
 *
 *                 with the code    without
 *     recent      k                n - k
 *     baseline    bk               bn - bk
 *
 * one-sided (recent rate greater): p = P(X >= k) for X hypergeometric with population n + bn,
 * k + bk successes and n draws. Conditioning on the margins makes the test exact whatever the
 * (unknown) true rate, and it stays honest when the baseline is small or has no case with the
 * code at all; a binomial test against the baseline's estimate would treat that estimate as
 * the truth and alarm too often when the baseline is short (tests/fleet/alert_sim.c measures
 * both on steady data).
 */
#ifndef BENCHFLEET_STATS_H
#define BENCHFLEET_STATS_H

#define STATS_ALERT_P       0.01 /* alert when p < this */
#define STATS_ALERT_MIN_HIT 5    /* ... and at least this many recent cases with the code */

/* One-sided Fisher exact p-value that the recent rate k/n exceeds the baseline rate bk/bn.
 * Counts must satisfy 0 <= k <= n, 0 <= bk <= bn; returns 1.0 when n or bn is 0. */
double stats_fisher_greater(long k, long n, long bk, long bn);

/* One-sided exact binomial p-value P(X >= k), X ~ Binomial(n, p0): the simpler test the
 * simulation compares against. */
double stats_binom_greater(long k, long n, double p0);

/* Is (k of n recent, bk of bn baseline) an alert? Writes the p-value. */
int stats_is_alert(long k, long n, long bk, long bn, double *p_value);

#endif
