{
  "targets": [
    {
      "target_name": "gcm",
      "sources": ["gcm.c", "vaes-gcm.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
