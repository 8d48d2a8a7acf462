DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/simple; d=example.com;
	s=ed25519; t=1700000000; h=From:From:To:Subject:Subject:Date:Message-ID:
	MIME-Version:Content-Type:Content-Transfer-Encoding:X-Mailer-Tag:
	X-Mailer-Tag; bh=pMQApiodJ2guvsTgSZ7HlfdV5QXoyFDXofW+q5WuT6I=; b=uUTAGX1Lr3N4
	bjCApDwL2yNueewxmvoQtmp1KcfzywwnQ83u/UOSRMlIuH3I4qPCcaaqocCm2GkVdhOjPYAsAw==
