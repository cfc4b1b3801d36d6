/* i18n: labels, sentences and dates of the report renderers in en, it, fr, zh (reports/ internal). */
#ifndef BENCHD_REPORTS_I18N_H
#define BENCHD_REPORTS_I18N_H

#include <stddef.h>
#include <time.h>

/* The label for key in lang (en when lang is unknown); the key itself if there is none. */
const char *i18n_label(const char *lang, const char *key);
int i18n_known_lang(const char *lang);
/* The key of the first label that lacks a language, or NULL (the unit tests call it). */
const char *i18n_incomplete_label(void);
/* "22 November 2026, 11:00 CET", "22 novembre 2026 à 11:00 CET", "2026年11月22日 11:00 CET". */
void i18n_datetime(const char *lang, const struct tm *tm, const char *zone, char *out, size_t outlen);
/* "22 November 2026", "2026年11月22日". */
void i18n_date(const char *lang, const struct tm *tm, char *out, size_t outlen);
/* "Nov 2026", "nov. 2026", "2026年11月": the axis of the battery trend. */
void i18n_month_year(const char *lang, const struct tm *tm, char *out, size_t outlen);

#endif
