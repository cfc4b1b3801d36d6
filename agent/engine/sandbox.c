/*
 * sandbox: the Lua state a tree runs in (see sandbox.h): chosen libraries, strict read-only
 * globals, deterministic pairs/tostring/format, an instruction hook and a memory cap, and the
 * JSON <-> Lua bridge.
 */
#include "sandbox.h"

#include "log.h"
#include "util.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOOK_EVERY 1000
#define MAX_DEPTH  16
#define MAX_ITEMS  20000 /* values copied out in one sandbox_to_json call */

struct sandbox {
	lua_State *L;
	size_t used, limit;
	long long instr, instr_limit;
	int stop;
	int env_ref; /* the table holding the real globals once locked */
};

static void *
sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct sandbox *sb = ud;
	size_t old = ptr ? osize : 0;
	void *p;

	if (nsize == 0) {
		free(ptr);
		sb->used -= old;
		return NULL;
	}
	if (nsize > old && sb->used - old + nsize > sb->limit)
		return NULL; /* Lua raises LUA_ERRMEM (after one emergency collection) */
	p = realloc(ptr, nsize);
	if (p == NULL)
		return NULL;
	sb->used = sb->used - old + nsize;
	return p;
}

static void
sb_hook(lua_State *L, lua_Debug *ar)
{
	struct sandbox *sb;
	(void)ar;
	lua_getallocf(L, (void **)&sb);
	sb->instr += HOOK_EVERY;
	if (sb->instr > sb->instr_limit) {
		sb->stop = SANDBOX_STOP_INSTR;
		/* Level 0 inside a hook is the tree's own function: name its line. */
		luaL_where(L, 0);
		lua_pushfstring(L, "stopped: the tree ran more than %I instructions (an endless loop?)",
		                (lua_Integer)sb->instr_limit);
		lua_concat(L, 2);
		lua_error(L);
	}
}

/* ---- deterministic replacements for base functions ---- */

static int
sb_refuse(lua_State *L)
{
	return luaL_error(L, "%s", lua_tostring(L, lua_upvalueindex(1)));
}

/* tostring that never shows an address. */
static const char *
safe_tolstring(lua_State *L, int idx, size_t *len)
{
	int t = lua_type(L, idx);
	idx = lua_absindex(L, idx);
	if ((t == LUA_TTABLE || t == LUA_TFUNCTION || t == LUA_TUSERDATA || t == LUA_TTHREAD ||
	     t == LUA_TLIGHTUSERDATA) &&
	    luaL_getmetafield(L, idx, "__tostring") == LUA_TNIL) {
		lua_pushstring(L, lua_typename(L, t));
		return lua_tolstring(L, -1, len);
	}
	if (t == LUA_TTABLE || t == LUA_TFUNCTION || t == LUA_TUSERDATA || t == LUA_TTHREAD ||
	    t == LUA_TLIGHTUSERDATA)
		lua_pop(L, 1); /* the metafield luaL_getmetafield pushed */
	return luaL_tolstring(L, idx, len);
}

static int
sb_tostring(lua_State *L)
{
	luaL_checkany(L, 1);
	safe_tolstring(L, 1, NULL);
	return 1;
}

/* string.format without %p, and with tables/functions shown by type name only. */
static int
sb_format(lua_State *L)
{
	size_t flen;
	const char *f = luaL_checklstring(L, 1, &flen);
	int n = lua_gettop(L);

	for (size_t i = 0; i < flen; i++) {
		if (f[i] != '%')
			continue;
		i++;
		if (i < flen && f[i] == '%')
			continue;
		while (i < flen && strchr("-+ #0123456789.", f[i]) != NULL)
			i++;
		if (i < flen && f[i] == 'p')
			return luaL_error(L, "string.format: %%p is not allowed in a tree");
	}
	for (int a = 2; a <= n; a++) {
		int t = lua_type(L, a);
		if (t == LUA_TTABLE || t == LUA_TFUNCTION || t == LUA_TUSERDATA || t == LUA_TTHREAD ||
		    t == LUA_TLIGHTUSERDATA) {
			safe_tolstring(L, a, NULL);
			lua_replace(L, a);
		}
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, n, 1);
	return 1;
}

static int
sb_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_getfield(L, 2, "__gc");
		if (!lua_isnil(L, -1))
			return luaL_error(L, "setmetatable: __gc is not allowed in a tree");
		lua_pop(L, 1);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

struct skey {
	int kind; /* 0 number, 1 string, 2 boolean */
	lua_Number n;
	const char *s;
	size_t slen;
	int pos; /* index in the keys table */
};

static int
skey_cmp(const void *a, const void *b)
{
	const struct skey *x = a, *y = b;
	int c;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	switch (x->kind) {
	case 0:
		return (x->n > y->n) - (x->n < y->n);
	case 1:
		c = memcmp(x->s, y->s, x->slen < y->slen ? x->slen : y->slen);
		if (c)
			return c;
		return (x->slen > y->slen) - (x->slen < y->slen);
	default:
		return (int)x->n - (int)y->n;
	}
}

/* Iterator: upvalues (table, sorted keys, position). */
static int
sorted_next(lua_State *L)
{
	lua_Integer pos = lua_tointeger(L, lua_upvalueindex(3)) + 1;
	lua_pushinteger(L, pos);
	lua_replace(L, lua_upvalueindex(3));
	if (lua_rawgeti(L, lua_upvalueindex(2), pos) == LUA_TNIL)
		return 1;
	lua_pushvalue(L, -1);
	lua_gettable(L, lua_upvalueindex(1));
	return 2;
}

/* Push an iterator over the table at idx (keys sorted), then the table and nil. */
static int
push_sorted_iter(lua_State *L, int idx)
{
	int nkeys = 0, keys, sorted;
	struct skey *k;

	idx = lua_absindex(L, idx);
	lua_newtable(L);
	keys = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		int t = lua_type(L, -2);
		lua_pop(L, 1);
		if (t != LUA_TNUMBER && t != LUA_TSTRING && t != LUA_TBOOLEAN)
			return luaL_error(L, "pairs: a table with %s keys has no fixed order in a tree",
			                  lua_typename(L, t));
		lua_pushvalue(L, -1);
		lua_rawseti(L, keys, ++nkeys);
	}
	k = lua_newuserdatauv(L, sizeof(*k) * (size_t)(nkeys ? nkeys : 1), 0);
	for (int i = 0; i < nkeys; i++) {
		lua_rawgeti(L, keys, i + 1);
		switch (lua_type(L, -1)) {
		case LUA_TNUMBER:
			k[i].kind = 0;
			k[i].n = lua_tonumber(L, -1);
			break;
		case LUA_TSTRING:
			k[i].kind = 1;
			k[i].s = lua_tolstring(L, -1, &k[i].slen); /* kept alive by `keys` */
			break;
		default:
			k[i].kind = 2;
			k[i].n = lua_toboolean(L, -1);
			break;
		}
		k[i].pos = i + 1;
		lua_pop(L, 1);
	}
	qsort(k, (size_t)nkeys, sizeof(*k), skey_cmp);
	lua_createtable(L, nkeys, 0);
	sorted = lua_gettop(L);
	for (int i = 0; i < nkeys; i++) {
		lua_rawgeti(L, keys, k[i].pos);
		lua_rawseti(L, sorted, i + 1);
	}
	lua_pushvalue(L, idx);
	lua_pushvalue(L, sorted);
	lua_pushinteger(L, 0);
	lua_pushcclosure(L, sorted_next, 3);
	lua_replace(L, keys);
	lua_settop(L, keys);
	lua_pushvalue(L, idx);
	lua_pushnil(L);
	return 3;
}

static int
sb_pairs(lua_State *L)
{
	luaL_checkany(L, 1);
	if (luaL_getmetafield(L, 1, "__pairs") != LUA_TNIL) {
		lua_pushvalue(L, 1);
		lua_call(L, 1, 3);
		return 3;
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	return push_sorted_iter(L, 1);
}

/* ---- read-only JSON proxies ---- */

static int
keycmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void push_proxy(lua_State *L, const json_t *v);

void
sandbox_push_json(lua_State *L, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		push_proxy(L, v);
		break;
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(v));
		break;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(v));
		break;
	case JSON_TRUE:
		lua_pushboolean(L, 1);
		break;
	case JSON_FALSE:
		lua_pushboolean(L, 0);
		break;
	default:
		lua_pushnil(L);
		break;
	}
}

/* __index: upvalues (json, cache). */
static int
proxy_index(lua_State *L)
{
	const json_t *v = lua_touserdata(L, lua_upvalueindex(1)), *c = NULL;

	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	if (json_is_object(v) && lua_type(L, 2) == LUA_TSTRING) {
		c = json_object_get(v, lua_tostring(L, 2));
	} else if (json_is_array(v) && lua_isinteger(L, 2)) {
		lua_Integer i = lua_tointeger(L, 2);
		if (i >= 1 && (size_t)i <= json_array_size(v))
			c = json_array_get(v, (size_t)i - 1);
	}
	if (c == NULL || json_is_null(c)) {
		lua_pushnil(L);
		return 1;
	}
	sandbox_push_json(L, c);
	lua_pushvalue(L, 2);
	lua_pushvalue(L, -2);
	lua_rawset(L, lua_upvalueindex(2));
	return 1;
}

static int
proxy_newindex(lua_State *L)
{
	return luaL_error(
	    L, "the snapshot, the history and the model table are read-only: copy the value into a local");
}

static int
proxy_len(lua_State *L)
{
	const json_t *v = lua_touserdata(L, lua_upvalueindex(1));
	lua_pushinteger(L, json_is_array(v) ? (lua_Integer)json_array_size(v) : 0);
	return 1;
}

static int
proxy_pairs(lua_State *L)
{
	const json_t *v = lua_touserdata(L, lua_upvalueindex(1));
	lua_Integer n = 0;

	/* Sorted keys (objects) or 1..n (arrays), read through the proxy. */
	lua_newtable(L);
	if (json_is_object(v)) {
		const char **keys = xcalloc(json_object_size(v) + 1, sizeof(char *));
		const char *k;
		json_t *x;
		size_t nk = 0;
		json_object_foreach((json_t *)v, k, x)
		{
			if (!json_is_null(x))
				keys[nk++] = k;
		}
		qsort(keys, nk, sizeof(char *), keycmp_str);
		for (size_t i = 0; i < nk; i++) {
			lua_pushstring(L, keys[i]);
			lua_rawseti(L, -2, ++n);
		}
		free(keys);
	} else {
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (json_is_null(json_array_get(v, i)))
				continue;
			lua_pushinteger(L, (lua_Integer)i + 1);
			lua_rawseti(L, -2, ++n);
		}
	}
	lua_pushvalue(L, 1);
	lua_insert(L, -2);
	lua_pushinteger(L, 0);
	lua_pushcclosure(L, sorted_next, 3);
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

static void
push_proxy(lua_State *L, const json_t *v)
{
	lua_createtable(L, 0, 0); /* the proxy: always empty */
	lua_createtable(L, 0, 6); /* its metatable */
	lua_pushlightuserdata(L, (void *)v);
	lua_newtable(L); /* cache */
	lua_pushcclosure(L, proxy_index, 2);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, proxy_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushlightuserdata(L, (void *)v);
	lua_pushcclosure(L, proxy_len, 1);
	lua_setfield(L, -2, "__len");
	lua_pushlightuserdata(L, (void *)v);
	lua_pushcclosure(L, proxy_pairs, 1);
	lua_setfield(L, -2, "__pairs");
	lua_pushlightuserdata(L, (void *)v);
	lua_setfield(L, -2, "__json");
	lua_pushstring(L, "read-only");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
}

const json_t *
sandbox_proxy_json(lua_State *L, int idx)
{
	const json_t *v = NULL;
	if (lua_type(L, idx) != LUA_TTABLE)
		return NULL;
	if (luaL_getmetafield(L, idx, "__json") != LUA_TNIL) {
		if (lua_type(L, -1) == LUA_TLIGHTUSERDATA)
			v = lua_touserdata(L, -1);
		lua_pop(L, 1);
	}
	return v;
}

/* ---- Lua -> JSON ---- */

/* Length of a valid UTF-8 sequence at p (1-4), or 0 if invalid. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	uint32_t c;
	size_t len;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		len = 2, c = p[0] & 0x1F;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		len = 3, c = p[0] & 0x0F;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3F);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
	    (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	return len;
}

json_t *
sandbox_json_string(const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = xmalloc((len < max / 3 ? len * 3 : max) + 4); /* U+FFFD takes 3 bytes */
	size_t o = 0, i = 0;
	json_t *j;

	while (i < len) {
		size_t n = p[i] == 0 ? 0 : utf8_seq(p + i, len - i);
		const char *src = (const char *)p + i;
		size_t add = n;
		if (n == 0) {
			src = "\xEF\xBF\xBD"; /* U+FFFD */
			add = 3;
			n = 1;
		}
		if (o + add > max)
			break;
		memcpy(out + o, src, add);
		o += add;
		i += n;
	}
	j = json_stringn(out, o);
	free(out);
	if (j == NULL)
		fatalx("sandbox: cannot make a JSON string");
	return j;
}

struct conv {
	int items;
	char *why;
	size_t whylen;
};

static json_t *to_json(lua_State *L, int idx, int depth, struct conv *cv);

static json_t *
number_json(lua_State *L, int idx)
{
	lua_Number d;
	if (lua_isinteger(L, idx))
		return json_integer((json_int_t)lua_tointeger(L, idx));
	d = lua_tonumber(L, idx);
	if (!isfinite(d))
		return json_null();
	if (d == floor(d) && fabs(d) < 9007199254740992.0)
		return json_integer((json_int_t)d);
	return json_real(d);
}

static json_t *
table_json(lua_State *L, int idx, int depth, struct conv *cv)
{
	size_t n = 0, rawlen = lua_rawlen(L, idx);
	int array = 1;
	json_t *out;

	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		n++;
		if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
		    (size_t)lua_tointeger(L, -1) > rawlen)
			array = 0;
	}
	if (n == 0 && depth > 0)
		return json_array(); /* an empty list inside evidence reads better as [] than {} */
	if (n > 0 && array && n == rawlen) {
		out = json_array();
		for (size_t i = 1; i <= n; i++) {
			json_t *e;
			lua_rawgeti(L, idx, (lua_Integer)i);
			e = to_json(L, lua_gettop(L), depth + 1, cv);
			lua_pop(L, 1);
			if (e == NULL) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, e);
		}
		return out;
	}
	/* An object: keys as strings, sorted, so the bytes never depend on hash order. */
	{
		char **keys = xcalloc(n + 1, sizeof(char *));
		size_t nk = 0;
		int tmp;
		lua_createtable(L, 0, (int)n);
		tmp = lua_gettop(L);
		out = json_object();
		lua_pushnil(L);
		while (lua_next(L, idx) != 0) {
			char *k;
			if (lua_type(L, -2) == LUA_TSTRING) {
				k = xstrdup(lua_tostring(L, -2));
			} else if (lua_type(L, -2) == LUA_TNUMBER) {
				if (lua_isinteger(L, -2))
					k = xasprintf("%lld", (long long)lua_tointeger(L, -2));
				else
					k = xasprintf("%.14g", (double)lua_tonumber(L, -2));
			} else {
				snprintf(cv->why, cv->whylen,
				         "a table key of type %s cannot go into a report",
				         lua_typename(L, lua_type(L, -2)));
				goto fail;
			}
			keys[nk++] = k;
			if (lua_getfield(L, tmp, k) != LUA_TNIL) {
				snprintf(cv->why, cv->whylen, "two keys of one table both read '%s'", k);
				lua_pop(L, 1);
				goto fail;
			}
			lua_pop(L, 1);
			lua_setfield(L, tmp, k); /* pops the value */
		}
		qsort(keys, nk, sizeof(char *), keycmp_str);
		for (size_t i = 0; i < nk; i++) {
			json_t *e;
			lua_getfield(L, tmp, keys[i]);
			e = to_json(L, lua_gettop(L), depth + 1, cv);
			lua_pop(L, 1);
			if (e == NULL)
				goto fail;
			json_object_set_new(out, keys[i], e);
		}
		for (size_t i = 0; i < nk; i++)
			free(keys[i]);
		free(keys);
		lua_settop(L, tmp - 1);
		return out;
	fail:
		for (size_t i = 0; i < nk; i++)
			free(keys[i]);
		free(keys);
		json_decref(out);
		return NULL;
	}
}

static json_t *
to_json(lua_State *L, int idx, int depth, struct conv *cv)
{
	const json_t *px;
	size_t len;
	const char *s;

	if (++cv->items > MAX_ITEMS) {
		snprintf(cv->why, cv->whylen, "more than %d values", MAX_ITEMS);
		return NULL;
	}
	if (depth > MAX_DEPTH) {
		snprintf(cv->why, cv->whylen, "tables nested deeper than %d", MAX_DEPTH);
		return NULL;
	}
	luaL_checkstack(L, 8, "to_json");
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return json_null();
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		return number_json(L, idx);
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		return sandbox_json_string(s, len, SANDBOX_MAX_STRING);
	case LUA_TTABLE:
		px = sandbox_proxy_json(L, idx);
		if (px != NULL)
			return json_deep_copy(px);
		return table_json(L, lua_absindex(L, idx), depth, cv);
	default:
		snprintf(cv->why, cv->whylen, "a %s cannot go into a report",
		         lua_typename(L, lua_type(L, idx)));
		return NULL;
	}
}

json_t *
/* NOLINTNEXTLINE(readability-non-const-parameter): why is written through cv */
sandbox_to_json(lua_State *L, int idx, char *why, size_t whylen)
{
	struct conv cv = {0, why, whylen};
	int top = lua_gettop(L);
	struct sandbox *sb;
	size_t limit;
	json_t *j;

	/* Copying out needs a little Lua memory (key lists) while C holds half-built JSON: a memory
	 * error here would longjmp past it. The data is already inside the limit, so its copy gets
	 * the same again as headroom. */
	lua_getallocf(L, (void **)&sb);
	limit = sb->limit;
	if (sb->limit < ((size_t)-1) / 2)
		sb->limit *= 2;
	j = to_json(L, lua_absindex(L, idx), 0, &cv);
	sb->limit = limit;
	lua_settop(L, top);
	return j;
}

/* ---- the state ---- */

static void
refuse(lua_State *L, const char *name, const char *msg)
{
	lua_pushstring(L, msg);
	lua_pushcclosure(L, sb_refuse, 1);
	lua_setglobal(L, name);
}

struct sandbox *
sandbox_new(size_t mem_limit, long long instr_limit)
{
	struct sandbox *sb = xcalloc(1, sizeof(*sb));
	lua_State *L;
	static const luaL_Reg libs[] = {
	    {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
	    {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
	    {LUA_UTF8LIBNAME, luaopen_utf8},
	};

	sb->limit = mem_limit ? mem_limit : SANDBOX_MEM_LIMIT;
	sb->instr_limit = instr_limit > 0 ? instr_limit : SANDBOX_INSTR_LIMIT;
	sb->env_ref = LUA_NOREF;
	L = lua_newstate(sb_alloc, sb);
	if (L == NULL) {
		free(sb);
		return NULL;
	}
	sb->L = L;
	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		luaL_requiref(L, libs[i].name, libs[i].func, 1);
		lua_pop(L, 1);
	}
	/* Remove what reaches files, the clock, randomness, or escapes the limits. */
	static const char *const drop[] = {"dofile", "loadfile", "load",   "rawset",
	                                   "next",   "pcall",    "xpcall", "warn"};
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
		lua_pushnil(L);
		lua_setglobal(L, drop[i]);
	}
	refuse(L, "print", "print is not available in a tree: record values with node()");
	lua_getglobal(L, LUA_MATHLIBNAME);
	lua_pushnil(L);
	lua_setfield(L, -2, "random");
	lua_pushnil(L);
	lua_setfield(L, -2, "randomseed");
	lua_pop(L, 1);
	lua_getglobal(L, LUA_STRLIBNAME);
	lua_getfield(L, -1, "format");
	lua_pushcclosure(L, sb_format, 1);
	lua_setfield(L, -2, "format");
	lua_pop(L, 1);
	lua_pushcfunction(L, sb_tostring);
	lua_setglobal(L, "tostring");
	lua_pushcfunction(L, sb_pairs);
	lua_setglobal(L, "pairs");
	lua_getglobal(L, "setmetatable");
	lua_pushcclosure(L, sb_setmetatable, 1);
	lua_setglobal(L, "setmetatable");
	lua_sethook(L, sb_hook, LUA_MASKCOUNT, HOOK_EVERY);
	return sb;
}

void
sandbox_setglobal(struct sandbox *sb, const char *name)
{
	lua_setglobal(sb->L, name);
}

/* __index of the locked globals: upvalue 1 is the real globals table. */
static int
globals_index(lua_State *L)
{
	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
		return 1;
	if (lua_type(L, 2) == LUA_TSTRING)
		return luaL_error(L, "'%s' is not defined (a typo? name your own values with local)",
		                  lua_tostring(L, 2));
	return luaL_error(L, "undefined global");
}

static int
globals_newindex(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TSTRING)
		return luaL_error(L, "a tree may not set the global '%s': use local", lua_tostring(L, 2));
	return luaL_error(L, "a tree may not set globals: use local");
}

void
sandbox_lock_globals(struct sandbox *sb)
{
	lua_State *L = sb->L;
	int g, env;

	lua_pushglobaltable(L);
	g = lua_gettop(L);
	lua_newtable(L);
	env = lua_gettop(L);
	/* Move every global into env; _G itself stays the (now empty) global table. */
	for (;;) {
		lua_pushnil(L);
		if (lua_next(L, g) == 0)
			break;
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, env);
		lua_pushnil(L);
		lua_rawset(L, g);
	}
	lua_pushvalue(L, g);
	lua_setfield(L, env, "_G");
	lua_newtable(L);
	lua_pushvalue(L, env);
	lua_pushcclosure(L, globals_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, globals_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushstring(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, g);
	sb->env_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops env */
	lua_pop(L, 1);
}

lua_State *
sandbox_state(struct sandbox *sb)
{
	return sb->L;
}

int
sandbox_stopped(const struct sandbox *sb)
{
	return sb->stop;
}

size_t
sandbox_mem_used(const struct sandbox *sb)
{
	return sb->used;
}

size_t
sandbox_mem_limit(const struct sandbox *sb)
{
	return sb->limit;
}

long long
sandbox_instr_limit(const struct sandbox *sb)
{
	return sb->instr_limit;
}

void
sandbox_free(struct sandbox *sb)
{
	if (sb == NULL)
		return;
	if (sb->L != NULL) {
		sb->limit = (size_t)-1; /* closing must never fail */
		lua_close(sb->L);
	}
	free(sb);
}
