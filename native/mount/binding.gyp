{
  "targets": [
    {
      "target_name": "berth_mount",
      "sources": ["mount.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
