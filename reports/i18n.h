/* i18n: labels of the report renderers in en, it, fr, zh (reports/ internal). */
#ifndef BENCHD_REPORTS_I18N_H
#define BENCHD_REPORTS_I18N_H

/* The label for key in lang (en when lang is unknown); the key itself if there is none. */
const char *i18n_label(const char *lang, const char *key);
int i18n_known_lang(const char *lang);

#endif
