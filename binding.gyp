{
  "targets": [
    {
      "target_name": "fast_spawn",
      "sources": ["native/fast-spawn.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
