/* stats: see stats.h. */
#include "stats.h"

#include <math.h>

/* log C(n, k) with the thread-safe lgamma_r (lgamma writes the global signgam). */
static double
lchoose(long n, long k)
{
	int sign;

	return lgamma_r((double)n + 1, &sign) - lgamma_r((double)k + 1, &sign) -
	       lgamma_r((double)(n - k) + 1, &sign);
}

double
stats_fisher_greater(long k, long n, long bk, long bn)
{
	long total = n + bn, m = k + bk, hi;
	double lden, p = 0;

	if (n <= 0 || bn <= 0 || k < 0 || bk < 0 || k > n || bk > bn)
		return 1.0;
	if (k == 0)
		return 1.0; /* P(X >= 0) */
	hi = m < n ? m : n;
	lden = lchoose(total, n);
	/* Terms shrink fast past the mode; summing all of them is cheap for our counts. */
	for (long x = k; x <= hi; x++) {
		if (m - x > bn)
			continue; /* impossible table */
		p += exp(lchoose(m, x) + lchoose(total - m, n - x) - lden);
	}
	return p > 1.0 ? 1.0 : p;
}

double
stats_binom_greater(long k, long n, double p0)
{
	double p = 0;

	if (k <= 0)
		return 1.0;
	if (k > n)
		return 0.0;
	if (p0 <= 0)
		return 0.0;
	if (p0 >= 1)
		return 1.0;
	for (long x = k; x <= n; x++)
		p += exp(lchoose(n, x) + (double)x * log(p0) + (double)(n - x) * log1p(-p0));
	return p > 1.0 ? 1.0 : p;
}

int
stats_is_alert(long k, long n, long bk, long bn, double *p_value)
{
	double p = stats_fisher_greater(k, n, bk, bn);

	*p_value = p;
	if (k < STATS_ALERT_MIN_HIT || n <= 0 || bn <= 0)
		return 0;
	/* The recent rate must be above the baseline's: k/n > bk/bn. */
	if ((double)k * (double)bn <= (double)bk * (double)n)
		return 0;
	return p < STATS_ALERT_P;
}
