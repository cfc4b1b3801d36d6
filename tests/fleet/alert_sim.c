/*
 * alert_sim: the alert test's false-alarm rate on steady data, and its power, measured.
 *
 *   alert_sim [--weeks W] [--seed S] [--check]
 *
 * For each scenario (cases per week of one model, the rate of one fault code) it draws W weeks
 * at a constant rate (cases ~ Poisson, cases with the code ~ Binomial), then evaluates the alert
 * at every week end exactly as benchfleet does: the last 7 days against the 56 before, an alert
 * when at least 5 recent cases have the code, the recent rate is higher and p < 0.01. Every
 * alert on this data is a false alarm. It reports the rate for the test benchfleet uses
 * (one-sided Fisher exact) and for an exact binomial test against the baseline's estimated
 * rate, and the power when the code's rate doubles or triples in the recent week.
 * --check exits 1 unless the Fisher false-alarm rate is at most 1 % (the test's level) and the
 * power at 3x the rate is at least 90 % for 200 cases a week at 5 %.
 */
#include "stats.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_s[4];

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
next_u64(void) /* xoshiro256** */
{
	uint64_t r = rotl(rng_s[1] * 5, 7) * 9, t = rng_s[1] << 17;

	rng_s[2] ^= rng_s[0];
	rng_s[3] ^= rng_s[1];
	rng_s[1] ^= rng_s[2];
	rng_s[0] ^= rng_s[3];
	rng_s[2] ^= t;
	rng_s[3] = rotl(rng_s[3], 45);
	return r;
}

static void
seed(uint64_t s)
{
	for (int i = 0; i < 4; i++) { /* splitmix64 */
		uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		rng_s[i] = z ^ (z >> 31);
	}
}

static double
uniform(void)
{
	return (double)(next_u64() >> 11) * 0x1.0p-53;
}

/* Poisson(lambda) as a sum of Poisson(<= 20) draws (Knuth's method underflows past ~700). */
static long
poisson(double lambda)
{
	long n = 0;

	while (lambda > 0) {
		double l = lambda > 20 ? 20 : lambda, lim = exp(-l), p = 1;
		lambda -= l;
		for (;;) {
			p *= uniform();
			if (p <= lim)
				break;
			n++;
		}
	}
	return n;
}

static long
binomial(long n, double p)
{
	long k = 0;

	for (long i = 0; i < n; i++)
		k += uniform() < p;
	return k;
}

struct tally {
	long evals, eligible, fisher, binom;
};

/* W steady weeks; evaluate at each week end from week 9 on. rise: the recent week's rate is
 * rate * rise (1 = steady). */
static void
run(double per_week, double rate, double rise, int weeks, struct tally *t)
{
	long *n = calloc((size_t)weeks, sizeof(long)), *k = calloc((size_t)weeks, sizeof(long));

	for (int w = 0; w < weeks; w++) {
		n[w] = poisson(per_week);
		k[w] = binomial(n[w], rate);
	}
	for (int w = 8; w < weeks; w++) {
		long rn = n[w], rk = rise == 1 ? k[w] : binomial(rn, rate * rise), bn = 0, bk = 0;
		double p;
		for (int b = w - 8; b < w; b++) {
			bn += n[b];
			bk += k[b];
		}
		t->evals++;
		if (rk >= STATS_ALERT_MIN_HIT)
			t->eligible++;
		t->fisher += stats_is_alert(rk, rn, bk, bn, &p);
		if (rk >= STATS_ALERT_MIN_HIT && bn > 0 &&
		    (double)rk * (double)bn > (double)bk * (double)rn &&
		    stats_binom_greater(rk, rn, (double)bk / (double)bn) < STATS_ALERT_P)
			t->binom++;
	}
	free(n);
	free(k);
}

int
main(int argc, char **argv)
{
	static const double per_week[] = {20, 50, 200, 1000};
	static const double rates[] = {0.02, 0.05, 0.15};
	int weeks = 2000, check = 0;
	unsigned long long s = 17;
	struct tally all = {0, 0, 0, 0};
	double power3_ref = -1;
	int bad = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--weeks") == 0 && i + 1 < argc)
			weeks = atoi(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			s = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--check") == 0)
			check = 1;
		else {
			fprintf(stderr, "usage: alert_sim [--weeks W] [--seed S] [--check]\n");
			return 2;
		}
	}
	if (weeks < 20) {
		fprintf(stderr, "alert_sim: --weeks must be at least 20\n");
		return 2;
	}
	seed(s);
	printf("steady data, %d weeks per scenario; alert: >= %d recent cases with the code, p < %g\n", weeks,
	       STATS_ALERT_MIN_HIT, STATS_ALERT_P);
	printf("%9s %6s %8s %9s %12s %12s %9s %9s\n", "cases/wk", "rate", "evals", "eligible", "FA fisher",
	       "FA binomial", "power 2x", "power 3x");
	for (size_t i = 0; i < sizeof(per_week) / sizeof(per_week[0]); i++)
		for (size_t j = 0; j < sizeof(rates) / sizeof(rates[0]); j++) {
			struct tally t = {0, 0, 0, 0}, p2 = {0, 0, 0, 0}, p3 = {0, 0, 0, 0};
			run(per_week[i], rates[j], 1, weeks, &t);
			run(per_week[i], rates[j], 2, weeks, &p2);
			if (rates[j] * 3 < 1)
				run(per_week[i], rates[j], 3, weeks, &p3);
			printf("%9.0f %5.0f%% %8ld %9ld %11.3f%% %11.3f%% %8.1f%% %8.1f%%\n", per_week[i],
			       rates[j] * 100, t.evals, t.eligible,
			       100.0 * (double)t.fisher / (double)t.evals,
			       100.0 * (double)t.binom / (double)t.evals,
			       100.0 * (double)p2.fisher / (double)p2.evals,
			       p3.evals ? 100.0 * (double)p3.fisher / (double)p3.evals : 0.0);
			all.evals += t.evals;
			all.eligible += t.eligible;
			all.fisher += t.fisher;
			all.binom += t.binom;
			if (per_week[i] == 200 && rates[j] == 0.05)
				power3_ref = (double)p3.fisher / (double)p3.evals;
		}
	printf("overall false alarms: fisher %ld of %ld evaluations (%.3f%%; %.3f%% of the %ld with >= %d "
	       "cases), binomial %ld (%.3f%%)\n",
	       all.fisher, all.evals, 100.0 * (double)all.fisher / (double)all.evals,
	       all.eligible ? 100.0 * (double)all.fisher / (double)all.eligible : 0.0, all.eligible,
	       STATS_ALERT_MIN_HIT, all.binom, 100.0 * (double)all.binom / (double)all.evals);
	if (check) {
		if ((double)all.fisher / (double)all.evals > STATS_ALERT_P) {
			fprintf(stderr, "FAIL: false-alarm rate above %g on steady data\n", STATS_ALERT_P);
			bad = 1;
		}
		if (power3_ref < 0.9) {
			fprintf(stderr,
			        "FAIL: the test finds a tripled rate (200 cases/week at 5%%) only %.1f%% of "
			        "the time\n",
			        100 * power3_ref);
			bad = 1;
		}
	}
	return bad;
}
