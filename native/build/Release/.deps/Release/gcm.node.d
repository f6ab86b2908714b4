cmd_Release/gcm.node := ln -f "Release/obj.target/gcm.node" "Release/gcm.node" 2>/dev/null || (rm -rf "Release/gcm.node" && cp -af "Release/obj.target/gcm.node" "Release/gcm.node")
