{
  "targets": [
    {
      "target_name": "ostree_addon",
      "sources": ["ostree_addon.c"],
      "cflags": ["<!@(pkg-config --cflags ostree-1)", "-std=gnu11", "-Wall", "-Wno-unused-parameter"],
      "libraries": ["<!@(pkg-config --libs ostree-1)"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS"]
    }
  ]
}
