DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=example.com; s=rsa2048;
	t=1700000000; h=From:From:To:Subject:Subject:Date:Message-ID:MIME-Version:
	Content-Type:Content-Transfer-Encoding:X-Mailer-Tag:X-Mailer-Tag;
	bh=pMQApiodJ2guvsTgSZ7HlfdV5QXoyFDXofW+q5WuT6I=; b=jOZQiu3Fd8YfkwnFb80veSArSP
	XuWKiNGeB+mz9afMlSr6E43JF0e1mjk6jjP+IQ22lTl47wmAvvjkMUGlqOqO4ww26hb55AktPR8Vh
	f1RjjC7I+uQJiRABqFlyBD/Y1SY7RBQrhbnxa2+TzCvqGqxbkOY+wusaBlaYgwrIlNRXj+Dxvr4vV
	THlUb/1iSFI7tPsOt4i71dCwYfxnvU7G0H1MddIxhmmjQMhrg2eLTWU53owRCiNotSNggYSUtaHGs
	whrqDkObX43pNxrVJaP4uDO8RAGO3/icJAJz8JGHFTi/eOqB9/syY+qeB3KHJSI0QheT5+kEIR8P3
	9gCMvePQ==
