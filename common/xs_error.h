// Xenstore error names: the wire carries an errno as its name ("ENOENT\0").
//
// The table is xs_wire.h's xsd_errors[] (Xen public ABI): clients index it, so its order
// matters and names outside it are read as EINVAL by every client.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace dxs {

// The wire name of err; errnos outside the table map to "EINVAL" as in xenstored.
std::string_view xs_error_name(int err);

// The errno of a wire error name, or 0 if the name is not in the table.
int xs_error_from_name(std::string_view name);

// True if err has a name in the table.
bool xs_error_is_known(int err);

}  // namespace dxs
