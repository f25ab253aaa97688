// Ctrl-C (SIGINT) and SIGTERM during long commands: the first one asks the command to stop at
// the next safe point (after the current step; the last checkpoint stays intact); a second one
// ends the process at once.
#pragma once

namespace mamlpp::cli {

void install_stop_handlers();
bool stop_requested();

}  // namespace mamlpp::cli
