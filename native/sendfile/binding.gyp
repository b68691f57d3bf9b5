{
  "targets": [
    {
      "target_name": "berth_sendfile",
      "sources": ["sendfile.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
