/*
 * sendfile(2) for `berth serve` (src/server/send-file.ts). Node has no sendfile: every blob
 * byte it serves is read into user space and written to the socket again, on the one thread
 * of a process, while Distribution (Go) hands files to the kernel. This is the kernel way.
 *
 * send(socketFd, fileFd, offset, count, callback(errno, sent)): runs on a thread of its own
 * (a long transfer must not hold one of libuv's four pool threads, which the file system calls
 * of other requests need) and calls back on the JS thread. Both descriptors are dup'ed first,
 * on the JS thread: node may close its own while the transfer runs (a client gone, a shutdown)
 * and the number could then name another file; the dups keep ours valid until we are done.
 * The socket is non-blocking (libuv's): a full socket buffer is waited out with poll(2).
 *
 * Node-API in C, no other dependency, built by node-gyp on `npm install` (an optional
 * dependency: without a compiler berth streams blobs through node as before).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <unistd.h>

/* A stalled client: give up after this long without the socket taking a byte. */
#define STALL_MS (5 * 60 * 1000)

struct transfer {
  int out, in;
  off_t offset;
  int64_t count, sent;
  int err;
  napi_threadsafe_function done;
};

static void *run(void *p) {
  struct transfer *t = p;
  while (t->sent < t->count) {
    size_t want = (size_t)(t->count - t->sent);
    if (want > (1 << 30)) want = 1 << 30;
    ssize_t n = sendfile(t->out, t->in, &t->offset, want);
    if (n > 0) { t->sent += n; continue; }
    if (n == 0) { t->err = EIO; break; } /* the file is shorter than its size said */
    if (errno == EINTR) continue;
    if (errno != EAGAIN) { t->err = errno; break; }
    struct pollfd pfd = {.fd = t->out, .events = POLLOUT};
    int r = poll(&pfd, 1, STALL_MS);
    if (r == 0) { t->err = ETIMEDOUT; break; }
    if (r < 0 && errno != EINTR) { t->err = errno; break; }
  }
  close(t->out);
  close(t->in);
  /* call_js frees t, possibly before the call below returns: keep the handle in a local */
  napi_threadsafe_function done = t->done;
  napi_call_threadsafe_function(done, t, napi_tsfn_blocking);
  napi_release_threadsafe_function(done, napi_tsfn_release);
  return NULL;
}

/* On the JS thread: callback(errno, sent). */
static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  struct transfer *t = data;
  (void)ctx;
  if (env != NULL && cb != NULL) {
    napi_value args[2], undefined;
    napi_create_int32(env, t->err, &args[0]);
    napi_create_double(env, (double)t->sent, &args[1]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, cb, 2, args, NULL);
  }
  free(t);
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t out = -1, in = -1;
  double offset = 0, count = 0;
  napi_valuetype cbType = napi_undefined;
  if (argc == 5) napi_typeof(env, argv[4], &cbType);
  if (argc != 5 || cbType != napi_function || napi_get_value_int32(env, argv[0], &out) != napi_ok ||
      napi_get_value_int32(env, argv[1], &in) != napi_ok || napi_get_value_double(env, argv[2], &offset) != napi_ok ||
      napi_get_value_double(env, argv[3], &count) != napi_ok || offset < 0 || count < 0) {
    napi_throw_type_error(env, NULL, "berth-sendfile: bad arguments");
    return NULL;
  }
  struct transfer *t = calloc(1, sizeof *t);
  if (!t) { napi_throw_error(env, NULL, "berth-sendfile: out of memory"); return NULL; }
  t->offset = (off_t)offset;
  t->count = (int64_t)count;
  t->out = dup(out);
  t->in = dup(in);
  napi_value name;
  napi_create_string_utf8(env, "berth-sendfile", NAPI_AUTO_LENGTH, &name);
  if (t->out < 0 || t->in < 0 ||
      napi_create_threadsafe_function(env, argv[4], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &t->done) != napi_ok) {
    if (t->out >= 0) close(t->out);
    if (t->in >= 0) close(t->in);
    free(t);
    napi_throw_error(env, NULL, "berth-sendfile: cannot start");
    return NULL;
  }
  /* a transfer does not keep node alive: the server's handles do, and a shutdown that cut the
     connections must not wait for a stalled client (exiting ends the thread and the socket) */
  napi_unref_threadsafe_function(env, t->done);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  int e = pthread_create(&thread, &attr, run, t);
  pthread_attr_destroy(&attr);
  if (e != 0) {
    close(t->out);
    close(t->in);
    napi_release_threadsafe_function(t->done, napi_tsfn_abort);
    free(t);
    napi_throw_error(env, NULL, "berth-sendfile: cannot start a thread");
    return NULL;
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "send", NAPI_AUTO_LENGTH, js_send, NULL, &f);
  napi_set_named_property(env, exports, "send", f);
  return exports;
}
