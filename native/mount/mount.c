/*
 * mount(2) and umount2(2) for berth (src/runtime/mount.ts), which otherwise runs the mount
 * and umount programs: two processes per container, each a fork of node plus libmount's own
 * start, 10-20 ms per build step on a loaded host, against microseconds for the calls.
 *
 * Node-API in C, no other dependency, built by node-gyp on `npm install` (an optional
 * dependency: without a compiler berth falls back to the programs).
 *
 * It also reads and writes extended attributes (src/runtime/xattrs.ts): llistxattr(2),
 * lgetxattr(2) and lsetxattr(2), values as Buffers (security.capability is binary). A layer's
 * diff lists the attributes of every changed entry, so each is one call rather than a process.
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
#include <sys/xattr.h>
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

/* Frees what an xattr call took and throws its TypeError; NULL, for the call to return. */
static napi_value bad_args(napi_env env, char *path, char *name) {
  free(path);
  free(name);
  napi_throw_type_error(env, NULL, "berth-mount: bad arguments");
  return NULL;
}

/* An xattr call's `want` arguments, led by the path and (when `name` is asked for) the
 * attribute's name, both strings; 0 when they are not, with nothing left to free. */
static int xattr_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, char **path,
                      char **name) {
  int ok;
  args(env, info, want, argv, &ok);
  *path = ok ? str_arg(env, argv[0], &ok) : NULL;
  if (name) *name = ok ? str_arg(env, argv[1], &ok) : NULL;
  if (ok && *path && (!name || *name)) return 1;
  bad_args(env, *path, name ? *name : NULL);
  return 0;
}

static napi_value int_value(napi_env env, int n) {
  napi_value out;
  napi_create_int32(env, n, &out);
  return out;
}

/* llistxattr(2) and lgetxattr(2) with one signature, for read_grown. */
typedef ssize_t (*xattr_read)(const char *path, const char *name, char *buf, size_t size);

static ssize_t list_names(const char *path, const char *name, char *buf, size_t size) {
  (void)name;
  return llistxattr(path, buf, size);
}

static ssize_t get_value(const char *path, const char *name, char *buf, size_t size) {
  return lgetxattr(path, name, buf, size);
}

/* Reads into `small` (`size` bytes), or when that is too small (ERANGE) into a malloc'd buffer
 * of the size the kernel says, asking again if it grew in between. *out: where the answer is
 * (free it when it is not `small`). The length, or -1 with errno set. */
static ssize_t read_grown(xattr_read read, const char *path, const char *name, char *small, size_t size,
                          char **out) {
  char *buf = small;
  ssize_t n = read(path, name, buf, size);
  while (n < 0 && errno == ERANGE) {
    ssize_t need = read(path, name, NULL, 0);
    if (need < 0) break;
    if (buf != small) free(buf);
    buf = malloc((size_t)need + 1);
    if (!buf) { errno = ENOMEM; n = -1; break; }
    n = read(path, name, buf, (size_t)need + 1);
  }
  *out = buf;
  return n;
}

/* llistxattr(path) -> the names (an array of strings; a symlink is not followed), or errno */
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char *path;
  if (!xattr_args(env, info, 1, argv, &path, NULL)) return NULL;
  char small[1024], *buf;
  ssize_t n = read_grown(list_names, path, NULL, small, sizeof small, &buf);
  int err = n < 0 ? errno : 0;
  free(path);
  napi_value out;
  if (err) {
    out = int_value(env, err);
  } else {
    napi_create_array(env, &out);
    uint32_t i = 0;
    for (ssize_t at = 0; at < n;) {
      size_t len = strnlen(buf + at, (size_t)(n - at));
      napi_value name;
      napi_create_string_utf8(env, buf + at, len, &name);
      napi_set_element(env, out, i++, name);
      at += (ssize_t)len + 1;
    }
  }
  if (buf && buf != small) free(buf);
  return out;
}

/* lgetxattr(path, name) -> the value (a Buffer), or errno */
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char *path, *name;
  if (!xattr_args(env, info, 2, argv, &path, &name)) return NULL;
  char small[256], *buf;
  ssize_t n = read_grown(get_value, path, name, small, sizeof small, &buf);
  int err = n < 0 ? errno : 0;
  free(path);
  free(name);
  napi_value out;
  if (err) out = int_value(env, err);
  else napi_create_buffer_copy(env, (size_t)n, buf, NULL, &out);
  if (buf && buf != small) free(buf);
  return out;
}

/* lsetxattr(path, name, value: Buffer, flags) -> 0 or errno */
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char *path, *name;
  if (!xattr_args(env, info, 4, argv, &path, &name)) return NULL;
  void *value = NULL;
  size_t len = 0;
  bool is_buffer = false;
  int ok = napi_is_buffer(env, argv[2], &is_buffer) == napi_ok && is_buffer &&
           napi_get_buffer_info(env, argv[2], &value, &len) == napi_ok;
  unsigned long flags = flags_arg(env, argv[3], &ok);
  if (!ok) return bad_args(env, path, name);
  int r = lsetxattr(path, name, len > 0 ? value : "", len, (int)flags);
  int err = r == 0 ? 0 : errno;
  free(path);
  free(name);
  return int_value(env, err);
}

static void export_function(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value f;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);
  napi_set_named_property(env, exports, name, f);
}

NAPI_MODULE_INIT() {
  export_function(env, exports, "mount", js_mount);
  export_function(env, exports, "umount", js_umount);
  export_function(env, exports, "llistxattr", js_llistxattr);
  export_function(env, exports, "lgetxattr", js_lgetxattr);
  export_function(env, exports, "lsetxattr", js_lsetxattr);
  return exports;
}
