/**
 * Real peers for the end-to-end proof tests: real servers and clients started inside lab hosts
 * (network namespaces, see ../lab.ts), each returning a handle whose stop() kills everything it
 * started. Nothing may survive a test: every process is tagged with HNFT_PEER_TAG in its
 * environment and stop() kills the tagged processes, the process group and all descendants
 * (vsftpd puts each session in a new session with setsid(), so the process group alone is not
 * enough). stopAllPeers() and a process 'exit' hook sweep whatever a failing test left behind.
 *
 * Checked on Debian bookworm userspace (vsftpd 3.0.3, tftpd-hpa 5.2, SIPp 3.6.1, curl 7.88,
 * conntrack-tools 1.4.7, python3 3.11) on kernel 6.18 with built-in netfilter.
 *
 * One file per peer (ftp.ts, tftp.ts, sip.ts, ...), each saying what its server needs to stay
 * inside a fixed range and the quirks hit on the way; the Python they run is in scripts/.
 *
 * Everything here uses /usr/bin/python3 (stdlib only) for probes, listeners and the exploit
 * actors, plus the Debian packages vsftpd, tftpd-hpa, tftp-hpa, sip-tester, curl, conntrack.
 */
export { leftoverPeerPids, type PeerHandle, stopAllPeers } from "./core";
export { type FtpFetchResult, ftpFetch, startVsftpd, type VsftpdHandle } from "./ftp";
export { type ExploitResult, ftpHelperExploit } from "./ftp-exploit";
export { type GreTunnelHandle, greTunnel } from "./gre";
export { baselineVulnerableRuleset, nftDeleteTable, nftLoad } from "./nft";
export { runSippUac, type SippUacResult, type SippUasHandle, startSippUas } from "./sip";
export { type ScanResult, scan, type TcpListenerHandle, tcpListener, tcpProbe, udpProbe } from "./tcp";
export { startTftpd, type TftpdHandle, tftpFetch } from "./tftp";
export { sendUdp, type UdpEchoHandle, udpEchoListener } from "./udp";
