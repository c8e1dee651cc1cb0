// Quick start in Go: a hardened firewall on one host reached over SSH.
//
// Set-up (docs/languages.md): `pulumi package add <path to pulumi-resource-hardened-nftables>` writes
// the SDK into sdks/hardened-nftables and points go.mod at it (the replace line below). Then:
//
//	pulumi config set host 198.18.0.10
//	pulumi config set hostKey "ssh-ed25519 AAAA..."          # the host's public key (pinned)
//	pulumi config set --secret privateKey < ~/.ssh/id_ed25519
//	pulumi config set user admin                             # optional (sudo -n is used when not root)
//	pulumi up
//
// The sandbox host of this repository (`npm run sandbox -- up`) shares /var and /run with this
// machine: also set hostPaths (--path hostPaths.stateRoot /etc/hardened-nftables/.state, and .runRoot).
package main

import (
	hnft "github.com/hardened-nftables/pulumi-hardened-nftables/sdk/go/hardenednftables"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func program(ctx *pulumi.Context) error {
	conf := config.New(ctx, "")
	port := conf.GetInt("port")
	if port == 0 {
		port = 22
	}
	user := conf.Get("user")
	if user == "" {
		user = "root"
	}
	var hostPaths hnft.HostPathsPtrInput
	var paths struct{ StateRoot, RunRoot string }
	if conf.GetObject("hostPaths", &paths) == nil && paths.StateRoot != "" {
		hostPaths = hnft.HostPathsArgs{StateRoot: pulumi.StringPtr(paths.StateRoot), RunRoot: pulumi.StringPtr(paths.RunRoot)}
	}

	firewall, err := hnft.NewHostFirewall(ctx, "quickstart", &hnft.HostFirewallArgs{
		Connection: hnft.ConnectionArgs{
			Host:       pulumi.String(conf.Require("host")),
			Port:       pulumi.IntPtr(port),
			User:       pulumi.StringPtr(user),
			PrivateKey: conf.RequireSecret("privateKey"),
			HostKey:    pulumi.StringPtr(conf.Require("hostKey")),
		},
		Exposures: hnft.ExposureArray{
			hnft.ExposureArgs{Service: pulumi.StringPtr("ssh")},
			hnft.ExposureArgs{Service: pulumi.StringPtr("https")},
			// Passive FTP without any helper: the data range is opened as plain ports.
			hnft.ExposureArgs{Service: pulumi.StringPtr("ftp"), PassivePorts: pulumi.String("50000-50100")},
		},
		Log:       hnft.LogPolicyArgs{Dropped: pulumi.BoolPtr(true)},
		HostPaths: hostPaths,
	})
	if err != nil {
		return err
	}
	ctx.Export("table", firewall.Table)
	ctx.Export("hostTarget", firewall.Target)
	ctx.Export("ruleLines", firewall.RuleLines)
	ctx.Export("hostProfile", firewall.HostProfile)
	ctx.Export("appliedHash", firewall.AppliedHash)
	ctx.Export("drift", firewall.DriftSummary)
	return nil
}

func main() {
	pulumi.Run(program)
}
