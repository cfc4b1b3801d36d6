/*
 * sandbox: one Lua 5.4 state per tree, in the style of redis 2.6 scripting.c.
 *
 * Only base (without dofile, loadfile, load, print, warn, rawset, next, pcall, xpcall), string,
 * table, math (without random/randomseed) and utf8 are opened; pairs iterates in a fixed (sorted)
 * order; tostring and string.format never show addresses; setmetatable refuses __gc. Globals are
 * read-only and strict: reading or writing a name that was not provided is an error. A count hook
 * stops the tree after `instr_limit` VM instructions and a counting allocator refuses memory past
 * `mem_limit`; either becomes an ordinary Lua error (there is no pcall inside a tree to catch it),
 * and sandbox_stopped() says which limit it was.
 *
 * JSON crosses the boundary in both directions: sandbox_push_json gives a lazy read-only proxy
 * over a json_t that must outlive the state; sandbox_to_json copies a Lua value out (sorted
 * object keys, bounded depth and size, UTF-8 made valid).
 *
 * Ownership: sandbox_new/sandbox_free; the json_t handed back by sandbox_to_json is new.
 */
#ifndef BENCHD_SANDBOX_H
#define BENCHD_SANDBOX_H

#include <jansson.h>
#include <lua.h>
#include <stddef.h>

#define SANDBOX_MEM_LIMIT   (16u * 1024 * 1024)
#define SANDBOX_INSTR_LIMIT 20000000LL
#define SANDBOX_MAX_STRING  8192 /* bytes of one string copied out to JSON */

enum sandbox_stop {
	SANDBOX_RUNNING = 0,
	SANDBOX_STOP_INSTR = 1,
	SANDBOX_STOP_MEM = 2,
};

struct sandbox;

/* NULL when even the empty state cannot be made. Limits of 0 take the defaults. */
struct sandbox *sandbox_new(size_t mem_limit, long long instr_limit);
void sandbox_free(struct sandbox *sb);
lua_State *sandbox_state(struct sandbox *sb);
/* Make every global defined so far read-only and any other name an error. Call last. */
void sandbox_lock_globals(struct sandbox *sb);
/* Which limit stopped the tree (enum sandbox_stop). */
int sandbox_stopped(const struct sandbox *sb);
size_t sandbox_mem_used(const struct sandbox *sb);
size_t sandbox_mem_limit(const struct sandbox *sb);
long long sandbox_instr_limit(const struct sandbox *sb);
/* Set a global (before sandbox_lock_globals): the value on top of the stack is popped. */
void sandbox_setglobal(struct sandbox *sb, const char *name);

/* Push a read-only view of v (objects and arrays are lazy proxies; null is nil). */
void sandbox_push_json(lua_State *L, const json_t *v);
/* If the value at idx is a proxy, its json_t; else NULL. */
const json_t *sandbox_proxy_json(lua_State *L, int idx);
/* Copy the Lua value at idx to new JSON. NULL with a reason in why when it cannot be. */
json_t *sandbox_to_json(lua_State *L, int idx, char *why, size_t whylen);
/* Copy a string to a valid-UTF-8 json string of at most max bytes. */
json_t *sandbox_json_string(const char *s, size_t len, size_t max);

#endif
