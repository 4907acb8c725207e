// The configuration keys dxs-frontend reads (common/settings.h), with their defaults
// taken from the option structs they fill (EventLoopOptions, SessionClientOptions,
// DispatchOptions, SocketTransportOptions), so that each default is written once.
#pragma once

#include "common/settings.h"

namespace dxs::frontend {

const Settings& frontend_settings();

}  // namespace dxs::frontend
