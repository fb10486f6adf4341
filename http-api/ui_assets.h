// The files of the web page under /ui/ (http-api/ui/), compiled into the binary by
// cmake/embed_files.cmake: the agent stays one file and the page fetches nothing from outside.
#pragma once

#include <string_view>
#include <vector>

namespace hearsay::http {

struct UiAsset {
  std::string_view name;  // "index.html", "app.js", ...
  std::string_view bytes;
};

extern const std::vector<UiAsset> kUiAssets;  // defined in the generated ui_assets_generated.cpp

}  // namespace hearsay::http
