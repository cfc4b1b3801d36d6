/* Unit tests of the events bus: order, seq, catch-up, bounded queues, shutdown. */
#include "events.h"

#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static json_t *
parse(const struct events_msg *m)
{
	json_error_t e;
	json_t *o = json_loads(m->json, 0, &e);
	assert_non_null(o);
	return o;
}

static void
test_publish_order_and_fields(void **state)
{
	struct events *ev = events_new();
	struct events_sub *a = events_subscribe(ev, 0), *b = events_subscribe(ev, 0);
	struct events_msg m;
	json_t *o;

	(void)state;
	assert_int_equal(events_next(a, 0, &m), 0); /* nothing yet, no wait */
	assert_int_equal(
	    events_publish(ev, EV_DEVICE_ATTACHED,
	                   json_pack("{s:s, s:s, s:s}", "device", "U1", "mode", "normal", "type", "ignored")),
	    1);
	assert_int_equal(events_publish(ev, EV_DEVICE_DETACHED, json_pack("{s:s}", "device", "U1")), 2);
	assert_int_equal(events_last_seq(ev), 2);
	for (int i = 0; i < 2; i++) {
		struct events_sub *s = i ? b : a;
		struct pollfd p = {.fd = events_sub_fd(s), .events = POLLIN};
		assert_int_equal(poll(&p, 1, 0), 1); /* the fd says something waits */
		assert_int_equal(events_next(s, 0, &m), 1);
		assert_int_equal(m.seq, 1);
		assert_string_equal(m.type, EV_DEVICE_ATTACHED);
		assert_null(strchr(m.json, '\n'));
		o = parse(&m);
		assert_string_equal(json_string_value(json_object_get(o, "type")), EV_DEVICE_ATTACHED);
		assert_string_equal(json_string_value(json_object_get(o, "device")), "U1");
		assert_int_equal(json_integer_value(json_object_get(o, "seq")), 1);
		assert_int_equal(strlen(json_string_value(json_object_get(o, "at"))), 20); /* ...T..:..:..Z */
		json_decref(o);
		events_msg_clear(&m);
		assert_int_equal(events_next(s, 0, &m), 1);
		assert_int_equal(m.seq, 2);
		events_msg_clear(&m);
		assert_int_equal(poll(&p, 1, 0), 0); /* drained: no longer readable */
		assert_int_equal(events_next(s, 10, &m), 0);
	}
	events_unsubscribe(a);
	events_unsubscribe(b);
	events_free(ev);
}

static void
test_since_catches_up(void **state)
{
	struct events *ev = events_new();
	struct events_sub *s;
	struct events_msg m;

	(void)state;
	for (int i = 0; i < EVENTS_KEEP + 10; i++)
		events_publish(ev, EV_SESSION_STEP, NULL);
	s = events_subscribe(ev, EVENTS_KEEP + 5); /* the last 5 */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(events_next(s, 0, &m), 1);
		assert_int_equal(m.seq, EVENTS_KEEP + 6 + i);
		events_msg_clear(&m);
	}
	assert_int_equal(events_next(s, 0, &m), 0);
	events_unsubscribe(s);
	s = events_subscribe(ev, 1); /* older than what is kept: only what is kept */
	assert_int_equal(events_next(s, 0, &m), 1);
	assert_int_equal(m.seq, 11);
	events_msg_clear(&m);
	events_unsubscribe(s);
	events_free(ev);
}

static void
test_slow_subscriber_dropped(void **state)
{
	struct events *ev = events_new();
	struct events_sub *slow = events_subscribe(ev, 0), *fast = events_subscribe(ev, 0);
	struct events_msg m;
	int got = 0;

	(void)state;
	for (int i = 0; i < EVENTS_QUEUE_MAX + 50; i++) {
		events_publish(ev, EV_SESSION_STEP, json_pack("{s:i}", "i", i));
		while (events_next(fast, 0, &m) == 1) {
			got++;
			events_msg_clear(&m);
		}
	}
	assert_int_equal(got, EVENTS_QUEUE_MAX + 50); /* the fast one missed nothing */
	assert_int_equal(events_next(slow, 0, &m), 1);
	assert_string_equal(m.type, EV_EVENTS_DROPPED);
	assert_non_null(strstr(m.json, "fell 1000 events behind"));
	events_msg_clear(&m);
	assert_int_equal(events_next(slow, 0, &m), -1);
	assert_int_equal(events_next(slow, 100, &m), -1);
	events_unsubscribe(slow);
	events_unsubscribe(fast);
	events_free(ev);
}

static void *
waiter(void *arg)
{
	struct events_sub *s = arg;
	struct events_msg m;
	long r = events_next(s, -1, &m);
	if (r == 1)
		events_msg_clear(&m);
	return (void *)r;
}

static void
test_wait_and_shutdown(void **state)
{
	struct events *ev = events_new();
	struct events_sub *s = events_subscribe(ev, 0);
	pthread_t t;
	void *r;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, waiter, s), 0);
	events_publish(ev, EV_BOOKING_CHANGED, NULL);
	assert_int_equal(pthread_join(t, &r), 0);
	assert_int_equal((long)r, 1);
	assert_int_equal(pthread_create(&t, NULL, waiter, s), 0);
	events_shutdown(ev);
	assert_int_equal(pthread_join(t, &r), 0);
	assert_int_equal((long)r, -1);
	assert_int_equal(events_publish(ev, EV_BOOKING_CHANGED, NULL), 0);
	assert_null(events_subscribe(ev, 0));
	events_unsubscribe(s);
	events_free(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_publish_order_and_fields),
	    cmocka_unit_test(test_since_catches_up),
	    cmocka_unit_test(test_slow_subscriber_dropped),
	    cmocka_unit_test(test_wait_and_shutdown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
