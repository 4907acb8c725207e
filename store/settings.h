// The configuration keys dxs-store reads (common/settings.h), with their defaults taken
// from the option structs they fill (DbOptions, SessionServerOptions, EngineOptions),
// so that each default is written once.
#pragma once

#include "common/settings.h"

namespace dxs::store {

const Settings& store_settings();

}  // namespace dxs::store
