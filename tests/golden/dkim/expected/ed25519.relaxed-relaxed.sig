DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;
	s=ed25519; t=1700000000; h=From:From:To:Subject:Subject:Date:Message-ID:
	MIME-Version:Content-Type:Content-Transfer-Encoding:X-Mailer-Tag:
	X-Mailer-Tag; bh=7lmwVoWr7XwPFC2TuRZfbyAiLaJ3HiShRBplvlvyLcE=; b=/d4PxUVqF5zu
	+VC0pc62flFEb2cvgEbllvvU2k4cHpL1rhY7PjBUAOEvA4WUdPlOBoKG8x2lodjMw8P2756XBQ==
