DKIM-Signature: v=1; a=ed25519-sha256; c=simple/relaxed; d=example.com;
	s=ed25519; t=1700000000; h=From:From:To:Subject:Subject:Date:Message-ID:
	MIME-Version:Content-Type:Content-Transfer-Encoding:X-Mailer-Tag:
	X-Mailer-Tag; bh=7lmwVoWr7XwPFC2TuRZfbyAiLaJ3HiShRBplvlvyLcE=; b=n7FV43D8jzxx
	XzuOdw8Dv1UehtZg33UfozRLOQV9v7Szaha7ntCTizef/w9fFn06HVfljLfteJEUyNatLEetAQ==
