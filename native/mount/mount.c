/*
 * mount(2) and umount2(2) for berth (src/runtime/mount.ts), which otherwise runs the mount
 * and umount programs: two processes per container, each a fork of node plus libmount's own
 * start, 10-20 ms per build step on a loaded host, against microseconds for the calls.
 *
 * Node-API in C, no other dependency, built by node-gyp on `npm install` (an optional
 * dependency: without a compiler berth falls back to the programs).
 *
 * Overlay options name their layers relative to a directory (see mount.ts): the kernel
 * resolves them against the caller's working directory, which is the whole process's. So a
 * mount with a `cwd` runs on a thread of its own that first unshares its file system context
 * (CLONE_FS): its chdir moves no one else's working directory, whatever node's other threads
 * are doing meanwhile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

struct job {
  char *cwd, *source, *target, *fstype, *data;
  unsigned long flags;
  int unmount;
  int err;
};

static void run_job(struct job *j) {
  int r = j->unmount ? umount2(j->target, (int)j->flags)
                     : mount(j->source, j->target, j->fstype, j->flags, j->data);
  j->err = r == 0 ? 0 : errno;
}

static void *in_own_cwd(void *p) {
  struct job *j = p;
  if (unshare(CLONE_FS) != 0 || chdir(j->cwd) != 0) {
    j->err = errno;
    return NULL;
  }
  run_job(j);
  return NULL;
}

/* A JS string (or null/undefined: NULL) as a malloc'd C string; *ok = 0 on a type error. */
static char *str_arg(napi_env env, napi_value v, int *ok) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) { *ok = 0; return NULL; }
  if (t == napi_null || t == napi_undefined) return NULL;
  if (t != napi_string) { *ok = 0; return NULL; }
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = malloc(len + 1);
  if (!s) { *ok = 0; return NULL; }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static napi_value finish(napi_env env, struct job *j, int ok) {
  napi_value out = NULL;
  if (!ok) {
    napi_throw_type_error(env, NULL, "berth-mount: bad arguments");
  } else {
    if (j->cwd) {
      pthread_t t;
      int e = pthread_create(&t, NULL, in_own_cwd, j);
      if (e != 0) j->err = e;
      else pthread_join(t, NULL);
    } else {
      run_job(j);
    }
    napi_create_int32(env, j->err, &out); /* 0, or the errno */
  }
  free(j->cwd); free(j->source); free(j->target); free(j->fstype); free(j->data);
  return out;
}

/* The call's arguments: exactly `want` of them, else *ok = 0. */
static void args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, int *ok) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  *ok = argc == want;
}

static unsigned long flags_arg(napi_env env, napi_value v, int *ok) {
  double flags = 0;
  if (napi_get_value_double(env, v, &flags) != napi_ok) *ok = 0;
  return (unsigned long)flags;
}

/* mount(cwd, source, target, fstype, flags, data) -> 0 or errno */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  struct job j = {0};
  int ok;
  args(env, info, 6, argv, &ok);
  if (ok) {
    j.cwd = str_arg(env, argv[0], &ok);
    j.source = str_arg(env, argv[1], &ok);
    j.target = str_arg(env, argv[2], &ok);
    j.fstype = str_arg(env, argv[3], &ok);
    j.flags = flags_arg(env, argv[4], &ok);
    j.data = str_arg(env, argv[5], &ok);
  }
  return finish(env, &j, ok && j.target);
}

/* umount(target, flags) -> 0 or errno */
static napi_value js_umount(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct job j = {.unmount = 1};
  int ok;
  args(env, info, 2, argv, &ok);
  if (ok) {
    j.target = str_arg(env, argv[0], &ok);
    j.flags = flags_arg(env, argv[1], &ok);
  }
  return finish(env, &j, ok && j.target);
}

NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "mount", NAPI_AUTO_LENGTH, js_mount, NULL, &f);
  napi_set_named_property(env, exports, "mount", f);
  napi_create_function(env, "umount", NAPI_AUTO_LENGTH, js_umount, NULL, &f);
  napi_set_named_property(env, exports, "umount", f);
  return exports;
}
