--[[ metasync for Lightroom Classic: borrow missing GPS, place and keywords from nearby photos. ]]
return {
  LrSdkVersion = 10.0,
  LrSdkMinimumVersion = 6.0,
  LrToolkitIdentifier = "dev.metasync.lightroom",
  LrPluginName = LOC "$$$/Metasync/PluginName=metasync",
  LrPluginInfoUrl = "https://github.com/metasync/metasync#lightroom-classic",
  LrLibraryMenuItems = {
    { title = LOC "$$$/Metasync/Suggest=metasync: Suggest…", file = "MetasyncSuggest.lua" },
    { title = LOC "$$$/Metasync/Revert=metasync: Revert last…", file = "MetasyncRevert.lua" },
  },
  VERSION = { major = 0, minor = 1, revision = 0, build = 1 },
}
