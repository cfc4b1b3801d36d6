/* text: the plain-text diagnosis a person reads in a ticket (booking.h). */
#include "booking_int.h"

#include "buf.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX       (64 * 1024) /* a comment stays readable: far fewer faults than this */
#define FIELD_MAX      200         /* one title, part or reason */
#define MAX_FAULTS     40
#define MAX_INCOMPLETE 10

/* A string of the report, one line, bounded ("" when absent). */
static void
field(const json_t *o, const char *key, char *out, size_t outlen)
{
	const json_t *v = json_object_get(o, key);
	size_t n;

	booking_json_text(v, out, outlen < FIELD_MAX ? outlen : FIELD_MAX);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	n = strlen(out);
	while (n > 0 && out[n - 1] == ' ')
		out[--n] = '\0';
}

static int
num(const json_t *o, const char *key, double *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return 0;
}

static void
upper(char *s)
{
	for (; *s; s++)
		*s = (char)toupper((unsigned char)*s);
}

char *
booking_summary_text(const struct booking_case *c)
{
	const json_t *rep = c->report, *faults = json_object_get(rep, "faults");
	const json_t *dev = json_object_get(rep, "device"), *bench = json_object_get(rep, "bench");
	const json_t *bat = json_object_get(json_object_get(rep, "readings"), "battery");
	const json_t *inc = json_object_get(rep, "incomplete"), *f;
	char outcome[32], model[FIELD_MAX], serial[FIELD_MAX], ios[64], bench_id[FIELD_MAX], created[64],
	    kid[FIELD_MAX];
	size_t nf = json_array_size(faults), i;
	double health, cycles;
	struct buf b;
	const char *rid;
	int e = 0;
	char *s;

	field(rep, "outcome", outcome, sizeof(outcome));
	upper(outcome);
	field(dev, "model_name", model, sizeof(model));
	if (!model[0])
		field(dev, "product_type", model, sizeof(model));
	field(dev, "serial", serial, sizeof(serial));
	field(dev, "ios_version", ios, sizeof(ios));
	field(bench, "id", bench_id, sizeof(bench_id));
	field(bench, "key_id", kid, sizeof(kid));
	field(rep, "created_at", created, sizeof(created));

	buf_init(&b, TEXT_MAX);
	if (nf == 0)
		e |= buf_printf(&b, "Bench diagnosis: %s (no faults found)\n", outcome[0] ? outcome : "?");
	else
		e |= buf_printf(&b, "Bench diagnosis: %s (%zu fault%s)\n", outcome[0] ? outcome : "?", nf,
		                nf == 1 ? "" : "s");
	if (model[0] || serial[0])
		e |= buf_printf(&b, "%s%s%s%s%s\n", model[0] ? model : "iPhone", serial[0] ? ", serial " : "",
		                serial, ios[0] ? ", iOS " : "", ios);

	if (nf > 0) {
		e |= buf_addstr(&b, "\nFaults and the part to replace:\n");
		json_array_foreach(faults, i, f)
		{
			char code[64], sev[32], title[FIELD_MAX], part[FIELD_MAX], note[FIELD_MAX];
			if (i >= MAX_FAULTS) {
				e |= buf_printf(&b, "  ... and %zu more (see the signed report)\n", nf - i);
				break;
			}
			field(f, "code", code, sizeof(code));
			field(f, "severity", sev, sizeof(sev));
			field(f, "title", title, sizeof(title));
			field(f, "part", part, sizeof(part));
			field(f, "part_note", note, sizeof(note));
			e |= buf_printf(&b, "  %zu. %s%s%s%s: %s\n", i + 1, code[0] ? code : "?",
			                sev[0] ? " (" : "", sev, sev[0] ? ")" : "",
			                title[0] ? title : "(no title)");
			if (part[0] && strncmp(part, "none", 4) != 0)
				e |= buf_printf(&b, "     part: %s\n", part);
			else
				e |= buf_printf(&b, "     part: none (%s)\n",
				                note[0] ? note : "ask the customer");
		}
	}
	if (json_array_size(inc) > 0) {
		e |= buf_addstr(&b, "\nNot fully checked:\n");
		json_array_foreach(inc, i, f)
		{
			char tree[64], reason[FIELD_MAX];
			if (i >= MAX_INCOMPLETE)
				break;
			field(f, "tree", tree, sizeof(tree));
			field(f, "reason", reason, sizeof(reason));
			e |= buf_printf(&b, "  - %s%s%s\n", tree, tree[0] ? ": " : "", reason);
		}
	}
	if (num(bat, "health_pct", &health) == 0 || num(bat, "cycle_count", &cycles) == 0) {
		e |= buf_addstr(&b, "\nBattery:");
		if (num(bat, "health_pct", &health) == 0)
			e |= buf_printf(&b, " health %.0f %%", health);
		if (num(bat, "cycle_count", &cycles) == 0)
			e |= buf_printf(&b, "%s %.0f charge cycles",
			                num(bat, "health_pct", &health) == 0 ? "," : "", cycles);
		e |= buf_addstr(&b, "\n");
	}

	/* The marker line read-before-write looks for: keep its form stable. */
	e |= buf_printf(&b, "\nbenchd report %s\n", c->report_id ? c->report_id : "?");
	if (c->case_id) {
		e |= buf_printf(&b, "Case %s", c->case_id);
		if (c->revision > 0)
			e |= buf_printf(&b, ", revision %d", c->revision);
		if (c->supersedes)
			e |= buf_printf(&b, " (replaces the earlier diagnosis %s)", c->supersedes);
		e |= buf_addstr(&b, "\n");
	}
	if (bench_id[0] || created[0])
		e |= buf_printf(&b, "Signed by bench %s%s%s\n", bench_id[0] ? bench_id : "?",
		                created[0] ? " at " : "", created);

	rid = c->report_id ? c->report_id : "?";
	e |=
	    buf_printf(&b,
	               "\nTo check that nobody changed this diagnosis, verify its signature:\n"
	               "  on the bench: benchctl report verify %s\n"
	               "  elsewhere: take the signed file %s.jws.json from the bench (reports/ in its state\n"
	               "  directory, or /reports/%s.jws.json on the bench page) and the bench's public key\n"
	               "  (benchctl key export > bench.jwk%s%s), then run\n"
	               "  benchctl report verify %s.jws.json --key bench.jwk\n",
	               rid, rid, rid, kid[0] ? "; key id " : "", kid, rid);
	/* Faults and reasons are bounded far below TEXT_MAX, so the marker always fits. */
	(void)e;
	s = buf_take(&b, NULL);
	return s ? s : xstrdup("Bench diagnosis (text too long)\n");
}
